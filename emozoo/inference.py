"""Batch inference on images: inputs (files, folders, globs, shards) to per-image emotion predictions.

Decoding and preprocessing run in ``DataLoader`` workers, which hand over whole batches, so the model never
waits for JPEG decoding while workers keep up. An image that cannot be read becomes an ``error`` item that the
caller reports and skips; it never stops the run. ``emozoo predict`` and ``bench/predict.py`` use this module.
"""

from __future__ import annotations

import contextlib
import glob
import io
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, IterableDataset

from emozoo.data.tario import tar_samples
from emozoo.errors import DataError, WeightsError

__all__ = [
    "IMAGE_EXTS",
    "Inputs",
    "autocast",
    "collect_inputs",
    "image_loaders",
    "load_for_inference",
    "predict_batches",
]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
SHARD_IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")
PRECISIONS = ("32", "bf16")


@dataclass
class Inputs:
    """What ``collect_inputs`` found: image files and shard tars, each in a stable order."""

    images: list[Path] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)
    shard_samples: int | None = 0  # from the shards' manifest.json; None when unknown

    @property
    def total(self) -> int | None:
        return None if self.shard_samples is None else len(self.images) + self.shard_samples


def _shard_count(directory: Path, names: set[str]) -> int | None:
    import json

    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        counts = {Path(s["file"]).name: int(s["count"]) for s in manifest.get("shards", [])}
        return sum(counts[n] for n in names)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def collect_inputs(inputs: Sequence[str]) -> Inputs:
    """Expand image files, folders (recursive), globs and shard tars/folders into an ``Inputs``.

    A folder contributes its image files (by extension, recursively) and its ``*.tar`` shards. A file named
    explicitly is taken as an image whatever its extension (so an unreadable one is reported, not ignored).

    Raises:
        DataError: an input matches nothing, or no image or shard is found at all.
    """
    found = Inputs()
    counts: dict[Path, set[str]] = {}
    for item in inputs:
        explicit = Path(item).is_file()  # named on purpose: read it whatever its extension
        paths = [Path(item)] if Path(item).exists() else [Path(p) for p in sorted(glob.glob(item, recursive=True))]
        if not paths:
            raise DataError(f"input not found: {item} (give image files, folders, globs or .tar shards)")
        for path in paths:
            for f in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
                if f.suffix == ".tar":
                    found.shards.append(str(f))
                    counts.setdefault(f.parent, set()).add(f.name)
                elif f.suffix.lower() in IMAGE_EXTS or explicit:
                    found.images.append(f)
    for directory, names in counts.items():
        n = _shard_count(directory, names)
        found.shard_samples = None if n is None or found.shard_samples is None else found.shard_samples + n
    if not found.images and not found.shards:
        raise DataError(f"no images ({', '.join(IMAGE_EXTS)}) or .tar shards in {', '.join(inputs)}")
    return found


def _load(data: bytes | Path, transform: Callable) -> torch.Tensor:
    img = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    img.load()  # decode now, so a truncated file fails here and not inside the transform
    return transform(img)


def _item(key: str, data: bytes | Path, transform: Callable) -> dict[str, Any]:
    try:
        return {"key": key, "image": _load(data, transform), "error": None}
    except Exception as err:  # any unreadable image is reported and skipped, never fatal
        return {"key": key, "image": None, "error": f"{type(err).__name__}: {str(err)[:160]}"}


class ImageFiles(Dataset):
    """Image files to preprocessed tensors (or an error per file)."""

    def __init__(self, paths: Sequence[Path], transform: Callable):
        self.paths, self.transform = list(paths), transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return _item(str(self.paths[i]), self.paths[i], self.transform)


class ShardImages(IterableDataset):
    """The images of WebDataset tars, each shard read by exactly one worker; keys are ``<tar>:<__key__>``."""

    def __init__(self, urls: Sequence[str], transform: Callable):
        self.urls, self.transform = list(urls), transform

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import webdataset as wds

        errors: list[dict[str, Any]] = []

        def shard_error(exn: Exception) -> bool:  # a broken tar is reported and the next one read
            errors.append({"key": str(getattr(exn, "url", "shard")), "image": None, "error": f"shard: {exn}"[:200]})
            return True

        pipe = wds.DataPipeline(wds.SimpleShardList(self.urls), wds.split_by_worker, tar_samples(handler=shard_error))
        for sample in pipe:
            yield from errors
            errors.clear()
            key = f"{sample.get('__url__', '?')}:{sample.get('__key__', '?')}"
            data = next((sample[k] for k in SHARD_IMAGE_KEYS if k in sample), None)
            if data is None:
                yield {"key": key, "image": None, "error": "no image in the sample"}
            else:
                yield _item(key, data, self.transform)
        yield from errors


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [it for it in items if it["error"] is None]
    return {
        "keys": [it["key"] for it in ok],
        "images": torch.stack([it["image"] for it in ok]) if ok else None,
        "errors": [(it["key"], it["error"]) for it in items if it["error"] is not None],
    }


def ramp_batches(n: int, batch_size: int, workers: int) -> list[list[int]]:
    """Index batches whose first ``workers`` batches are small, so the model starts while the workers warm up.

    The model cannot start before a whole first batch is decoded; a quarter-size first batch per worker halves
    or better the time the model sits idle at the start. Outputs are per image, so batch sizes do not matter.
    """
    small = max(1, batch_size // 4)
    sizes, start, batches = [small] * max(1, workers), 0, []
    while start < n:
        size = sizes[len(batches)] if len(batches) < len(sizes) else batch_size
        batches.append(list(range(start, min(n, start + size))))
        start += size
    return batches


def image_loaders(inputs: Inputs, transform: Callable, batch_size: int, workers: int) -> list[DataLoader]:
    """Loaders that yield ``{"keys", "images", "errors"}`` batches, decoded in ``workers`` processes."""
    kw = {"prefetch_factor": 4, "persistent_workers": False} if workers > 0 else {}
    out = []
    if inputs.images:
        files = ImageFiles(inputs.images, transform)
        batches = ramp_batches(len(files), batch_size, workers)
        out.append(DataLoader(files, batch_sampler=batches, num_workers=workers, collate_fn=_collate, **kw))
    if inputs.shards:
        n = min(workers, len(inputs.shards))  # a shard is read by one worker: more would idle
        kw = {"prefetch_factor": 4, "persistent_workers": False} if n > 0 else {}
        shards = ShardImages(inputs.shards, transform)
        out.append(DataLoader(shards, batch_size=batch_size, num_workers=n, collate_fn=_collate, **kw))
    return out


def autocast(precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on the model's device type for ``bf16``; nothing for ``32``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "32":
        return contextlib.nullcontext()
    return torch.autocast("cuda" if torch.cuda.is_available() else "cpu", dtype=torch.bfloat16)


def predict_batches(
    model, loaders: Sequence[DataLoader], precision: str = "32", timing: dict[str, float] | None = None
) -> Iterator[dict[str, Any]]:
    """Run ``model`` on every batch; yields ``{"keys", "errors", "outputs"}`` with float32 CPU outputs.

    ``timing``, if given, accumulates ``wait`` (seconds blocked on the loaders: decoding not hidden) and
    ``forward`` (seconds in the model).
    """
    device = next(model.parameters()).device
    timing = timing if timing is not None else {}
    timing.setdefault("wait", 0.0)
    timing.setdefault("forward", 0.0)
    for loader in loaders:
        it = iter(loader)
        while True:
            t0 = time.perf_counter()
            batch = next(it, None)
            t1 = time.perf_counter()
            timing["wait"] += t1 - t0
            if batch is None:
                break
            outputs: dict[str, torch.Tensor] = {}
            if batch["images"] is not None:
                with torch.inference_mode(), autocast(precision):
                    out = model(batch["images"].to(device, non_blocking=True))
                outputs = {k: v.float().cpu() for k, v in out.items()}
            timing["forward"] += time.perf_counter() - t1
            yield {"keys": batch["keys"], "errors": batch["errors"], "outputs": outputs}


def load_for_inference(name_or_dir: str, encoder: str | None = None, neutral_means: str | None = None):
    """``emozoo.load_model`` for images: a model without an image encoder is an error that says what to pass."""
    from emozoo.zoo.pretrained import load_model

    model = load_model(name_or_dir, encoder=encoder, neutral_means=neutral_means)
    if model.backbone is None:
        raise WeightsError(
            f"{name_or_dir} is an emotion head without an image encoder (it takes embeddings); give the encoder "
            "with --encoder (e.g. hf-hub:google/siglip2-so400m-patch16-384 or local-dir:DIR)"
        )
    return model.eval()
