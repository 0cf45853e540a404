"""WebDataset pipelines: resampled, epoch-cut streams for training; exact, split-once streams for evaluation.

Training (``train_pipeline``): shards are *resampled* with replacement and every worker cuts its stream after a
fixed number of batches (``with_epoch``), so every rank runs the same number of steps and DDP never waits on a
rank that ran out of data, even with fewer shards than ranks x workers. Incomplete batches are dropped, so every
step has the same batch size; an "epoch" is a number of steps, not an exact pass (``batches_per_worker``).

Evaluation (``eval_pipeline``): each shard goes to exactly one (rank, worker) pair (``split_by_node`` then
``split_by_worker``), so each sample is seen exactly once across the job and metrics are computed over the union.

Uneven tails. With S shards on R ranks, rank r gets shards r, r + R, ...: ranks hold different numbers of samples
(and a rank may hold none: with fewer shards than ranks it yields an empty stream), and each worker ends with a
partial batch. Nothing is padded or repeated (``DistributedSampler`` would pad by repeating samples, which counts
them twice in the agreement metrics). Ranks therefore run different numbers of eval batches; that is safe because
eval steps run no collectives: metric states are synchronised once, in ``compute()`` at the end of the epoch,
where every rank takes part whatever its batch count. Keep it so: no ``sync_dist=True`` logging inside eval steps.

Inputs. A sample's input is its image (decoded, then the backbone's transform) or, for shard sets written by
``emozoo embed`` (``emozoo.data.embeddings``), its cached embedding: the ``npy`` member, a float16 vector, given as
``batch["embedding"]`` (float32) instead of ``batch["image"]``. Targets come from the same ``json`` either way.

Cost per sample. At small image sizes the fixed work around decoding is what limits a loader worker, so it is
kept small: a fast tar reader (``emozoo.data.tario``), label checks and targets in numpy (``schema``), all targets
of a batch in one tensor (``unpack_batch`` splits them in the main process), and image batches written into
reusable shared-memory buffers (``batch_buffers``) instead of a fresh segment per batch. bench/data.py measures it.

Bad samples (undecodable image or embedding, missing or invalid JSON, NaN/inf/out-of-range rating, wrong-length
vector) are skipped and counted, and a truncated shard is reported by name; the counts travel inside the batches
(``num_bad``, ``bad``) because workers are separate processes. ``EmotionModule`` stops the run when a training
epoch's bad fraction exceeds ``data.max_bad_fraction``, naming the shards involved.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import webdataset as wds

from emozoo.backbones.transforms import BatchNormalize, ImageTransform
from emozoo.data.batch_buffers import BatchBuffers
from emozoo.data.decode import decode_embedding, decode_image, read_labels
from emozoo.data.sample_cache import SampleCache, numbered
from emozoo.data.schema import BadSample, target_arrays
from emozoo.data.tario import tar_samples

__all__ = [
    "decode_embedding",
    "decode_image",
    "eval_pipeline",
    "make_loader",
    "split_transform",
    "train_pipeline",
    "unpack_batch",
]


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


def _image(sample: dict[str, Any], transform: Callable | None, cache: SampleCache | None) -> Any:
    """The sample's image through ``transform`` (the per-sample half). With a ``cache``, ``transform`` is the
    whole ``ImageTransform``: its ``geometry`` output comes from the cache when it is there, then ``augment`` runs."""
    if cache is None:
        img = decode_image(sample)
        return transform(img) if transform is not None else img
    slot = cache.slot(sample)
    img = cache.get(slot)
    if img is None:
        img = transform.geometry(decode_image(sample))
        cache.put(slot, img)
    return transform.augment(img) if transform.augment is not None else img


def _samples(
    src: Iterator[dict[str, Any]],
    transform: Callable | None,
    targets: Sequence[str],
    rater_index: dict[str, int] | None,
    log: _BadLog,
    with_image: bool = True,
    embeddings: bool = False,
    cache: SampleCache | None = None,
) -> Iterator[dict[str, Any]]:
    for sample in src:
        key = sample.get("__key__", "?")
        try:
            labels = read_labels(sample)
            out = target_arrays(labels, targets, rater_index)
            if embeddings:
                out["embedding"] = decode_embedding(sample)
            elif with_image:
                out["image"] = _image(sample, transform, cache)
        except BadSample as err:
            log.items.append(f"{sample.get('__url__', '?')}:{key}: {err}")
            continue
        out["key"] = key
        yield out


def split_transform(transform: Callable | None) -> tuple[Callable | None, BatchNormalize | None]:
    """(per-sample half, per-batch half) of an image transform: an ``ImageTransform``'s own two halves.

    ``create_transform`` builds them apart (``emozoo.backbones.transforms``): the geometry runs per sample, so
    samples stay uint8 until they are stacked (a quarter of the bytes to copy), and ``BatchNormalize`` runs once
    per batch with the same numbers. Moving float batches out of loader workers (through shared memory) cost as
    much as decoding them on this project's CPUs, which is why ``EmotionDataModule`` on an accelerator goes one
    step further and normalises on the device. Any other callable runs whole, per sample.
    """
    if isinstance(transform, ImageTransform):
        return transform.sample, transform.batch
    return transform, None


def _batched(
    src: Iterator[dict[str, Any]],
    batch_size: int,
    partial: bool,
    log: _BadLog,
    batch_transform: BatchNormalize | None,
    buffers: BatchBuffers,
) -> Iterator[dict]:
    buffers.start_pass()  # slots of batches an abandoned pass left unseen come back
    batch: list[dict[str, Any]] = []
    for sample in src:
        batch.append(sample)
        if len(batch) == batch_size:
            yield _collate(batch, log, batch_transform, buffers)
            batch = []
    if batch and partial:
        yield _collate(batch, log, batch_transform, buffers)
    elif log.items:  # bad samples at the very end still get reported, in an empty batch
        yield {"num_samples": 0, "num_bad": len(log.items), "bad": log.drain()}


def _collate(
    batch: list[dict[str, Any]], log: _BadLog, batch_transform: BatchNormalize | None, buffers: BatchBuffers
) -> dict[str, Any]:
    """One batch dict from per-sample dicts, its targets packed into one tensor (``unpack_batch`` undoes it).

    Why pack: a loader worker hands each tensor of a batch to the main process as its own shared-memory segment
    and file descriptor, about 0.3 ms per tensor on this project's CPUs; seven target tensors cost as much as the
    image itself at small sizes. All targets travel as one float32 buffer, each target a contiguous block of it.
    The image batch goes into one of the worker's reusable shared buffers (``BatchBuffers``).
    """
    out: dict[str, Any] = {"key": [s["key"] for s in batch]}
    layout, blocks = [], []
    for name, value in batch[0].items():
        if name == "key":
            continue
        if isinstance(value, np.ndarray):
            stacked = np.stack([s[name] for s in batch])
            layout.append((name, stacked.shape, str(stacked.dtype)))
            blocks.append(stacked.reshape(-1).astype(np.float32, copy=False))
        elif name == "image" and batch_transform is not None:  # normalised straight into a worker's buffer
            images = torch.stack([s[name] for s in batch])
            buf, out[BatchBuffers.KEY] = buffers.empty(images.shape, torch.float32)
            out[name] = batch_transform(images, out=buf)
        elif name == "image":
            images = [s[name] for s in batch]
            buf, out[BatchBuffers.KEY] = buffers.empty((len(images), *images[0].shape), images[0].dtype)
            out[name] = torch.stack(images, out=buf)
        else:  # embeddings: small
            out[name] = torch.stack([s[name] for s in batch])
    if blocks:
        out["targets"] = torch.from_numpy(np.concatenate(blocks))
        out["targets_layout"] = tuple(layout)
    bad = log.drain()
    out["num_samples"] = len(batch)
    out["num_bad"] = sum(1 for b in bad if not b.startswith("shard "))
    out["bad"] = bad
    return out


def unpack_batch(batch: dict[str, Any], buffers: BatchBuffers | None = None) -> dict[str, Any]:
    """A batch with its packed ``targets`` split back into named tensors (views; boolean masks as bool).

    ``make_loader`` applies it in the main process, so every consumer sees ``intensity``, ``intensity_mask``,
    ``binary_yes``, ``binary_n``, ``distribution``, ``distribution_mask`` and (eval with raters) ``ratings``. It
    also tells the pipeline's ``buffers`` which worker buffer the image batch occupies.
    """
    batch.pop("__key__", None)  # WebDataset's map adds it to every item; a batch has "key" (a list) instead
    slot = batch.pop(BatchBuffers.KEY, None)
    if buffers is not None and "image" in batch:
        buffers.received(batch["image"], slot)
    if "targets" not in batch:
        return batch
    packed = batch.pop("targets")
    offset = 0
    for name, shape, dtype in batch.pop("targets_layout"):
        size = math.prod(shape)
        view = packed[offset : offset + size].view(shape)
        batch[name] = view if dtype == "float32" else view.to(getattr(torch, dtype))
        offset += size
    return batch


def _stream_seed(seed: int, purpose: int, epoch: int | None = None) -> int:
    """A 31-bit seed for (seed, rank, loader worker[, epoch]) and a purpose (0: shard draws, 1: shuffle).

    Hashed (``SeedSequence``), not a linear mix such as WebDataset's ``make_seed``, under which worker ``w`` at
    epoch ``e + 31`` drew exactly what worker ``w + 1`` drew at epoch ``e``; and a separate purpose, so the shard
    draws and the shuffle do not consume one random sequence in lockstep.
    """
    rank, _, worker, _ = wds.utils.pytorch_worker_info()
    key = [seed % 2**63, rank, worker, purpose] + ([] if epoch is None else [epoch])
    return int(np.random.SeedSequence(key).generate_state(1)[0]) & 0x7FFFFFFF


class _SeededShuffle:
    """``wds.shuffle`` seeded by (seed, rank, worker, epoch), like the shard draws.

    Why: WebDataset seeds its shuffle buffer from the process id and the clock, so two runs with the same
    ``seed`` saw samples in different orders and ended a few hundredths of ρ apart. With this, the whole training
    stream (shards and order) is a function of the seed and the epoch; the loader interleaves its workers' batches
    in order.
    """

    def __init__(self, bufsize: int, initial: int, seed: int, start_epoch: int = 0) -> None:
        self.bufsize, self.initial, self.seed = bufsize, initial, seed
        self.epoch = start_epoch - 1  # per worker process: persistent workers run one iteration per epoch

    def __call__(self, src: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        self.epoch += 1
        rng = random.Random(_stream_seed(self.seed, 1, self.epoch))
        return wds.shuffle(self.bufsize, initial=self.initial, rng=rng)(src)


def train_pipeline(
    urls: list[str],
    transform: Callable | None,
    batch_size: int,
    batches_per_worker: int,
    targets: Sequence[str],
    shuffle_buffer: int = 1000,
    seed: int = 0,
    embeddings: bool = False,
    normalize: bool = True,
    start_epoch: int = 0,
    cache: SampleCache | None = None,
) -> wds.DataPipeline:
    """An endless resampled stream cut to ``batches_per_worker`` batches per worker and epoch.

    With ``embeddings``, samples carry cached embeddings (``batch["embedding"]``) and ``transform`` is unused. With
    ``normalize=False``, images stay uint8 and the caller applies ``transform.batch`` to the batch
    (after moving it to the device: a quarter of the bytes cross from the workers). ``start_epoch``: the epoch the
    first pass is (a resumed run continues with that epoch's shard draws and order, not the first epoch's).
    ``cache``: a ``SampleCache`` over ``urls`` (made before the loader's workers start) that keeps each image after
    the transform's ``geometry``, so later visits only run its ``augment``; the stream is the same either way.
    """
    log, buffers = _BadLog(), BatchBuffers()
    per_sample, per_batch = split_transform(transform)
    per_batch = per_batch if normalize else None
    if not isinstance(transform, ImageTransform):
        cache = None  # only an ImageTransform has a deterministic half to keep
    elif cache is not None:
        per_sample = transform  # _image runs its geometry (or takes it from the cache) and its augment apart
    # Resampling: every worker draws shards with replacement, seeded by (seed, rank, worker, epoch).
    shards = wds.ResampledShards(urls, seed=0, worker_seed=functools.partial(_stream_seed, seed, 0), deterministic=True)
    shards.epoch = start_epoch - 1  # it adds 1 before each pass
    reader = tar_samples(handler=log.shard_error)
    pipe = wds.DataPipeline(
        shards,
        reader if cache is None else numbered(reader),
        _SeededShuffle(shuffle_buffer, initial=min(shuffle_buffer, 100), seed=seed, start_epoch=start_epoch),
        lambda src: _samples(src, per_sample, targets, None, log, embeddings=embeddings, cache=cache),
        lambda src: _batched(src, batch_size, False, log, per_batch, buffers),
    ).with_epoch(batches_per_worker)
    pipe.batch_buffers = buffers
    return pipe


def eval_pipeline(
    urls: list[str],
    transform: Callable | None,
    batch_size: int,
    targets: Sequence[str] = ("ratings", "weak", "binary"),
    rater_index: dict[str, int] | None = None,
    with_image: bool = True,
    embeddings: bool = False,
    normalize: bool = True,
) -> wds.DataPipeline:
    """Each sample exactly once across all ranks and workers, in shard order, last batch partial.

    ``embeddings`` and ``normalize`` as in ``train_pipeline``.
    """
    log, buffers = _BadLog(), BatchBuffers()
    per_sample, per_batch = split_transform(transform)
    per_batch = per_batch if normalize else None
    pipe = wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.split_by_node,
        wds.split_by_worker,
        tar_samples(handler=log.shard_error),
        lambda src: _samples(src, per_sample, targets, rater_index, log, with_image, embeddings),
        lambda src: _batched(src, batch_size, True, log, per_batch, buffers),
    )
    pipe.batch_buffers = buffers
    return pipe


def batches_per_worker(num_samples: int, epochs: float, batch_size: int, world_size: int, num_workers: int) -> int:
    """Batches each worker yields so that one epoch covers ``epochs`` passes over ``num_samples``."""
    total_batches = math.ceil(num_samples * epochs / batch_size)
    return max(1, math.ceil(total_batches / (world_size * max(1, num_workers))))


def make_loader(pipeline: wds.DataPipeline, num_workers: int, pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A loader over an already-batched pipeline; workers persist so resampling seeds advance per epoch.

    ``pin_memory``: batches arrive in page-locked memory, from which a CUDA copy with ``non_blocking=True``
    overlaps the next batch's work (only worth it when the consumer's device is CUDA).

    Raises:
        ValueError: ``pipeline`` already feeds another loader (their workers would share buffer slots).
    """
    buffers = getattr(pipeline, "batch_buffers", None)
    if buffers is not None:
        if buffers.attached:
            raise ValueError("this pipeline already feeds a loader; build a new pipeline for each loader")
        buffers.attached = True
    loader = wds.WebLoader(
        pipeline,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
        pin_memory=pin_memory,
    )
    # In the main process, as each batch arrives from the workers.
    return loader.map(functools.partial(unpack_batch, buffers=buffers))
