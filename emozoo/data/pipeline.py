"""WebDataset pipelines: resampled, epoch-cut streams for training; exact, split-once streams for evaluation.

Training (``train_pipeline``): shards are *resampled* with replacement and every worker cuts its stream after a
fixed number of batches (``with_epoch``), so every rank runs the same number of steps and DDP never waits on a
rank that ran out of data, even with fewer shards than ranks x workers.

Evaluation (``eval_pipeline``): each shard goes to exactly one (rank, worker) pair (``split_by_node`` then
``split_by_worker``), so each sample is seen exactly once across the job and metrics are computed over the union.
Ranks may therefore run different numbers of eval batches (an uneven tail); that is safe because eval steps run no
collectives: metric states are synchronised once, in ``compute()``, at the end of the epoch.

Bad samples (undecodable image, missing or invalid JSON, NaN/inf/out-of-range rating, wrong-length vector) are
skipped and counted, and a truncated shard is reported by name; the counts travel inside the batches (``num_bad``,
``bad``) because workers are separate processes.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import webdataset as wds
from PIL import Image
from torch.utils.data import default_collate

from emozoo.data.schema import BadSample, derive_targets, validate_labels

__all__ = ["eval_pipeline", "make_loader", "train_pipeline"]

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")


class _BadLog:
    """Per-worker record of skipped samples and broken shards, drained into the next batch."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def shard_error(self, exn: Exception) -> bool:
        url = getattr(exn, "url", None) or (exn.args[-1] if exn.args else "?")
        self.items.append(f"shard {url}: {type(exn).__name__}: {str(exn)[:200]}")
        return True  # keep going with the next shard

    def drain(self) -> list[str]:
        items, self.items = self.items, []
        return items


def _decode_image(sample: dict[str, Any]) -> Image.Image:
    for key in IMAGE_KEYS:
        if key in sample:
            try:
                img = Image.open(io.BytesIO(sample[key]))
                img.load()
            except Exception as err:
                raise BadSample(f"{key}: undecodable image ({type(err).__name__})") from None
            return img
    raise BadSample(f"no image (expected one of {', '.join(IMAGE_KEYS)})")


def _samples(
    src: Iterator[dict[str, Any]],
    transform: Callable | None,
    targets: Sequence[str],
    rater_index: dict[str, int] | None,
    log: _BadLog,
    with_image: bool = True,
) -> Iterator[dict[str, Any]]:
    for sample in src:
        key = sample.get("__key__", "?")
        try:
            if "json" not in sample:
                raise BadSample("missing json labels")
            try:
                meta = json.loads(sample["json"])
            except (ValueError, UnicodeDecodeError):
                raise BadSample("json: not valid JSON") from None
            labels = validate_labels(meta)
            out = derive_targets(labels, targets, rater_index)
            if with_image:
                img = _decode_image(sample)
                out["image"] = transform(img) if transform is not None else img
        except BadSample as err:
            log.items.append(f"{sample.get('__url__', '?')}:{key}: {err}")
            continue
        out["key"] = key
        yield out


def _batched(src: Iterator[dict[str, Any]], batch_size: int, partial: bool, log: _BadLog) -> Iterator[dict]:
    batch: list[dict[str, Any]] = []
    for sample in src:
        batch.append(sample)
        if len(batch) == batch_size:
            yield _collate(batch, log)
            batch = []
    if batch and partial:
        yield _collate(batch, log)
    elif log.items:  # bad samples at the very end still get reported, in an empty batch
        yield {"num_samples": 0, "num_bad": len(log.items), "bad": log.drain()}


def _collate(batch: list[dict[str, Any]], log: _BadLog) -> dict[str, Any]:
    out = default_collate(batch)
    bad = log.drain()
    out["num_samples"] = len(batch)
    out["num_bad"] = sum(1 for b in bad if not b.startswith("shard "))
    out["bad"] = bad
    return out


def train_pipeline(
    urls: list[str],
    transform: Callable | None,
    batch_size: int,
    batches_per_worker: int,
    targets: Sequence[str],
    shuffle_buffer: int = 1000,
    seed: int = 0,
) -> wds.DataPipeline:
    """An endless resampled stream cut to ``batches_per_worker`` batches per worker and epoch."""
    log = _BadLog()
    return wds.DataPipeline(
        # Resampling: every worker draws shards with replacement, seeded by (seed, rank, worker, epoch).
        wds.ResampledShards(urls, seed=seed, deterministic=True),
        wds.tarfile_to_samples(handler=log.shard_error),
        wds.shuffle(shuffle_buffer, initial=min(shuffle_buffer, 100)),
        lambda src: _samples(src, transform, targets, None, log),
        lambda src: _batched(src, batch_size, partial=False, log=log),
    ).with_epoch(batches_per_worker)


def eval_pipeline(
    urls: list[str],
    transform: Callable | None,
    batch_size: int,
    targets: Sequence[str] = ("ratings", "weak", "binary"),
    rater_index: dict[str, int] | None = None,
    with_image: bool = True,
) -> wds.DataPipeline:
    """Each sample exactly once across all ranks and workers, in shard order, last batch partial."""
    log = _BadLog()
    return wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.split_by_node,
        wds.split_by_worker,
        wds.tarfile_to_samples(handler=log.shard_error),
        lambda src: _samples(src, transform, targets, rater_index, log, with_image),
        lambda src: _batched(src, batch_size, partial=True, log=log),
    )


def batches_per_worker(num_samples: int, epochs: float, batch_size: int, world_size: int, num_workers: int) -> int:
    """Batches each worker yields so that one epoch covers ``epochs`` passes over ``num_samples``."""
    total_batches = math.ceil(num_samples * epochs / batch_size)
    return max(1, math.ceil(total_batches / (world_size * max(1, num_workers))))


def make_loader(pipeline: wds.DataPipeline, num_workers: int) -> torch.utils.data.DataLoader:
    """A loader over an already-batched pipeline; workers persist so resampling seeds advance per epoch."""
    return wds.WebLoader(
        pipeline,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
    )
