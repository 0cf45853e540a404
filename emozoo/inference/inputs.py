"""What ``predict`` reads: files, folders, globs and shards (``collect_inputs``), or images held in memory, turned
into batches of face crops by ``DataLoader`` workers.

Each input image is read (``emozoo.data.decode.read_image``, the reader training uses too), cut into crops by the
crop stage (``emozoo.inference.crops``: one whole-image crop without a face detector), and each crop goes through
the model's per-sample transform (uint8). Workers hand over whole batches, so the model never waits for JPEG
decoding while workers keep up; normalisation runs once per batch on the model's device (``emozoo.scoring``). An
image that cannot be read becomes an error that the caller reports and skips; it never stops the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, IterableDataset

from emozoo.data.decode import decode_image, read_image
from emozoo.data.tario import tar_samples
from emozoo.errors import DataError
from emozoo.inference.crops import Crop, Cropper
from emozoo.inputs import IMAGE_EXTS, find_inputs

__all__ = ["IMAGE_EXTS", "Inputs", "as_image", "collect_inputs", "image_loaders", "ramp_batches"]

# An image for ``predict``: a file, encoded bytes, a PIL image, an HWC uint8 array or a CHW tensor.
Source = str | Path | bytes | Image.Image | np.ndarray | torch.Tensor


@dataclass
class Inputs:
    """Images to score, each ``(key, source)`` in a stable order, and shard tars; ``collect_inputs`` makes one."""

    images: list[tuple[str, Source]] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "<folder>: <reason>" that a walk could not read
    shard_samples: int | None = 0  # from the shards' manifest.json; None when unknown

    @property
    def total(self) -> int | None:
        return None if self.shard_samples is None else len(self.images) + self.shard_samples


def _shard_count(directory: Path, names: set[str]) -> int | None:
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        counts = {Path(s["file"]).name: int(s["count"]) for s in manifest.get("shards", [])}
        return sum(counts[n] for n in names)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def collect_inputs(inputs: Sequence[str | Path], *, recursive: bool = True) -> Inputs:
    """Expand image files, folders, globs and shard tars into an ``Inputs`` (``emozoo.inputs.find_inputs``).

    Folder walks and ``**`` never follow a symlink loop and each file comes out once. A folder contributes its
    images (by extension), videos and ``*.tar`` shards. A file named explicitly is taken as an image whatever its
    extension (so an unreadable one is reported, not ignored).

    Raises:
        DataError: an input matches nothing, or no image, video or shard is found at all.
    """
    files = find_inputs([str(i) for i in inputs], recursive=recursive)
    found = Inputs(
        images=[(str(f), f) for f in files.images],
        videos=list(files.videos),
        shards=[str(f) for f in files.shards],
        unreadable=list(files.unreadable),
    )
    counts: dict[Path, set[str]] = {}
    for f in files.shards:
        counts.setdefault(f.parent, set()).add(f.name)
    for directory, names in counts.items():
        n = _shard_count(directory, names)
        found.shard_samples = None if n is None or found.shard_samples is None else found.shard_samples + n
    return found


def as_image(source: Source) -> Image.Image:
    """Any ``Source`` as a PIL image: files and bytes through ``read_image``; arrays (HW or HWC uint8) and tensors
    (CHW, uint8 or float in [0, 1], which is rounded to uint8 as ``ToPILImage`` does) converted.

    Raises:
        DataError: an array or tensor of another shape or type.
    """
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (str, Path, bytes)):
        return read_image(source)
    if isinstance(source, torch.Tensor):
        t = source.detach().cpu()
        if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
            raise DataError(f"an image tensor must be CHW with 1, 3 or 4 channels, got shape {tuple(t.shape)}")
        if t.is_floating_point():
            t = t.mul(255).round().clamp(0, 255)
        source = t.to(torch.uint8).permute(1, 2, 0).squeeze(-1).numpy()
    if isinstance(source, np.ndarray):
        channels = source.shape[2] if source.ndim == 3 else 1
        if source.dtype != np.uint8 or source.ndim not in (2, 3) or channels not in (1, 3, 4):
            raise DataError(
                f"an image array must be HW or HWC (1, 3 or 4 channels) uint8, got {source.dtype} {source.shape}"
            )
        return Image.fromarray(source.squeeze(-1) if source.ndim == 3 and source.shape[2] == 1 else source)
    raise DataError(f"cannot read an image from a {type(source).__name__}; give a path, PIL image, array or tensor")


def crop_items(crops: Sequence[Crop], transform: Callable, where: dict[str, Any] | None = None) -> list[dict]:
    """Crops as the loader's face items: location fields, ``where`` (a video frame's ``time``, ``frame``,
    ``track``s), and ``image`` through the per-sample transform."""
    where = where or {}
    tracks = where.get("tracks")
    return [
        {
            "face": i,
            "box": [float(v) for v in crop.box],
            "landmarks": None if crop.landmarks is None else [[float(x), float(y)] for x, y in crop.landmarks],
            "detector_score": None if crop.detector_score is None else float(crop.detector_score),
            **{k: v for k, v in where.items() if k != "tracks"},
            **({} if tracks is None else {"track": tracks[i]}),
            "image": transform(crop.image),
        }
        for i, crop in enumerate(crops)
    ]


def _read(key: str, source: Source, cropper: Cropper, transform: Callable) -> dict[str, Any]:
    """An input's crops through the per-sample transform: ``{"key", "faces": [...], "error"}``."""
    try:
        return {"key": key, "faces": crop_items(cropper(as_image(source)), transform), "error": None}
    except Exception as err:  # any unreadable image is reported and skipped, never fatal
        return {"key": key, "faces": [], "error": f"{type(err).__name__}: {str(err)[:160]}"}


class ImageSources(Dataset):
    """``(key, source)`` pairs to their preprocessed crops (or an error per input)."""

    def __init__(self, items: Sequence[tuple[str, Source]], cropper: Cropper, transform: Callable):
        self.items, self.cropper, self.transform = list(items), cropper, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        key, source = self.items[i]
        return _read(key, source, self.cropper, self.transform)


class ShardImages(IterableDataset):
    """The images of WebDataset tars, each shard read by exactly one worker; keys are ``<tar>:<__key__>``."""

    def __init__(self, urls: Sequence[str], cropper: Cropper, transform: Callable):
        self.urls, self.cropper, self.transform = list(urls), cropper, transform

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import webdataset as wds

        errors: list[dict[str, Any]] = []

        def shard_error(exn: Exception) -> bool:  # a broken tar is reported and the next one read
            errors.append({"key": str(getattr(exn, "url", "shard")), "faces": [], "error": f"shard: {exn}"[:200]})
            return True

        pipe = wds.DataPipeline(wds.SimpleShardList(self.urls), wds.split_by_worker, tar_samples(handler=shard_error))
        for sample in pipe:
            yield from errors
            errors.clear()
            key = f"{sample.get('__url__', '?')}:{sample.get('__key__', '?')}"
            try:
                image = decode_image(sample)  # the training pipeline's decoder: the same keys, the same reader
            except Exception as err:
                yield {"key": key, "faces": [], "error": str(err)}
                continue
            yield _read(key, image, self.cropper, self.transform)
        yield from errors


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Crops of several inputs as one batch: ``image`` (uint8, N crops) with ``faces`` (their records' fields)."""
    ok = [it for it in items if it["error"] is None]
    faces = [{"image_key": it["key"], **{k: v for k, v in f.items() if k != "image"}} for it in ok for f in it["faces"]]
    images = [f["image"] for it in ok for f in it["faces"]]
    return {
        "image": torch.stack(images) if images else None,
        "faces": faces,
        "num_samples": len(images),
        "read": [it["key"] for it in ok],  # inputs read, with or without a face
        "no_face": [(it["key"], it.get("where", {})) for it in ok if not it["faces"]],
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


def image_loaders(
    inputs: Inputs, cropper: Cropper, transform: Callable, batch_size: int, workers: int, pin_memory: bool = False
) -> list[DataLoader]:
    """Loaders of crop batches (see ``_collate``), decoded in ``workers`` processes; ``transform`` is per sample.

    ``pin_memory``: batches arrive in page-locked memory, for asynchronous copies to a CUDA model.
    """
    out, common = [], {"collate_fn": _collate, "pin_memory": pin_memory}
    if inputs.images:
        kw = {"prefetch_factor": 4, "persistent_workers": False} if workers > 0 else {}
        files = ImageSources(inputs.images, cropper, transform)
        batches = ramp_batches(len(files), batch_size, workers)
        out.append(DataLoader(files, batch_sampler=batches, num_workers=workers, **common, **kw))
    if inputs.shards:
        n = min(workers, len(inputs.shards))  # a shard is read by one worker: more would idle
        kw = {"prefetch_factor": 4, "persistent_workers": False} if n > 0 else {}
        shards = ShardImages(inputs.shards, cropper, transform)
        out.append(DataLoader(shards, batch_size=batch_size, num_workers=n, **common, **kw))
    return out
