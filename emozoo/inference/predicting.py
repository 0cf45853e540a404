"""``predict``: images in, one ``FacePrediction`` per face out; the code path of ``model.predict`` and
``emozoo predict`` alike.

``predict_stream`` is that path: inputs to loaders (read, crop stage, per-sample transform in workers), batches
through ``emozoo.scoring.score_batches`` on the model's device, outputs to records, with each unreadable input
yielded as a ``Skipped`` instead of stopping the run. ``predict`` collects it for Python callers (inputs may be
held in memory); ``predict_files`` streams it to a JSONL/CSV file and plots for the command.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image

from emozoo.devices import module_device, pin_memory
from emozoo.errors import DataError
from emozoo.inference.crops import face_cropper
from emozoo.inference.inputs import Inputs, Source, collect_inputs, image_loaders
from emozoo.inference.loading import load_for_inference, on_device
from emozoo.inference.records import RANK_BY, FacePrediction, face_predictions
from emozoo.inference.video import video_loader
from emozoo.scoring import score_batches

__all__ = ["PredictSummary", "Skipped", "predict", "predict_files", "predict_stream"]


class Skipped(NamedTuple):
    """An input that could not be read, and why."""

    image: str
    reason: str


def _check(top_k: int, batch_size: int, workers: int, rank_by: str) -> None:
    if batch_size < 1 or top_k < 1 or workers < 0:
        raise ValueError("batch_size and top_k must be >= 1 and workers >= 0")
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be one of {RANK_BY}, got {rank_by!r}")


def predict_stream(
    model,
    inputs: Inputs,
    *,
    faces: str = "all",
    top_k: int = 5,
    rank_by: str = "intensity",
    batch_size: int = 32,
    workers: int = 0,
    precision: str = "32",
    fps: float = 2.0,
    timing: dict[str, float] | None = None,
    counts: dict[str, int] | None = None,
) -> Iterator[FacePrediction | Skipped]:
    """Predictions for ``inputs`` in loader order, on the device ``model`` is on (in eval mode meanwhile).

    Args:
        faces: the crop stage (``emozoo.inference.crops.face_cropper``): ``none`` scores whole images.
        fps: frames sampled per second of each video.
        timing: accumulates ``wait`` and ``forward`` seconds (``score_batches``).
        counts: accumulates ``images`` (inputs read) and ``no_face`` (inputs read without a face).
    """
    _check(top_k, batch_size, workers, rank_by)
    cropper = face_cropper(faces)
    top_k = min(top_k, model.head.num_emotions)
    extra_names = tuple(getattr(model.head, "extra_dims", ()))
    device = module_device(model)
    transform = model.transform().sample
    loaders = image_loaders(inputs, cropper, transform, batch_size, workers, pin_memory(device))
    if inputs.videos:
        loaders.append(video_loader(inputs.videos, faces, transform, fps, batch_size, workers, pin_memory(device)))
    counts = counts if counts is not None else {}
    for loader in loaders:
        for batch, outputs in score_batches(model, loader, precision, timing):
            for key, err in batch["errors"]:
                yield Skipped(key, err)
            counts["images"] = counts.get("images", 0) + len(batch["read"])
            counts["no_face"] = counts.get("no_face", 0) + len(batch["no_face"])
            if outputs is not None:
                yield from face_predictions(batch["faces"], outputs, top_k, rank_by, extra_names)
            for key, where in batch["no_face"]:
                yield FacePrediction(image=key, face=None, rank_by=rank_by, **where)


def _in_memory(x: Any) -> list[Source]:
    """``x`` as a list of single images: a list stays a list; an NCHW tensor or NHWC array is split."""
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, torch.Tensor) and x.ndim == 4:
        return list(x.unbind(0))
    if isinstance(x, np.ndarray) and x.ndim == 4:
        return list(x)
    return [x]


def _as_inputs(x: Any) -> Inputs:
    """Paths (files, folders, globs, shards: as ``emozoo predict`` reads them) and in-memory images, in order."""
    found = Inputs()
    for i, item in enumerate(_in_memory(x)):
        if isinstance(item, (str, Path)):
            more = collect_inputs([item])
            found.images += more.images
            found.shards += more.shards
            found.videos += more.videos
        elif isinstance(item, (bytes, Image.Image, np.ndarray, torch.Tensor)):
            found.images.append((getattr(item, "filename", "") or f"input[{i}]", item))
        else:
            raise DataError(f"input {i}: cannot read an image from a {type(item).__name__}")
    return found


def predict(
    model,
    x: Any,
    *,
    faces: str = "all",
    top_k: int = 5,
    rank_by: str = "intensity",
    batch_size: int = 32,
    workers: int = 0,
    precision: str = "32",
    device: str | torch.device | None = None,
    skip_unreadable: bool = False,
    fps: float = 2.0,
) -> list[FacePrediction]:
    """Score images with ``model``: one ``FacePrediction`` per face, in input order.

    Args:
        model: an ``EmotionModel``, or a zoo name, model folder or ``hf-hub:org/name`` to load.
        x: a path (file, folder, glob or shard tar), encoded bytes, a PIL image, a numpy array (HW or HWC uint8),
            a tensor (CHW, uint8 or float in [0, 1]), or a list of them (an NCHW tensor counts as a list).
        faces: ``all`` (every face, detected and aligned), ``largest`` (the biggest face) or ``none`` (each
            whole image, box = the full frame, as for EmoNet-Face close-ups).
        top_k: emotions in each prediction's ``top_k``.
        rank_by: ``intensity`` or ``distribution``: what ``top_k`` ranks by.
        batch_size: crops per forward pass.
        workers: decoding processes (0: in this process).
        precision: ``32`` or ``bf16`` (autocast on the model's device).
        device: where to run (``auto``, ``cpu``, ``cuda:N``, ``mps``); a given model is moved there. None: a
            given model stays where it is, a loaded one goes to ``auto``.
        skip_unreadable: leave unreadable inputs out instead of raising.
        fps: frames sampled per second of a video (its predictions carry ``time``, ``frame`` and ``track``).

    Raises:
        DataError: an input cannot be read (unless ``skip_unreadable``), or a path matches nothing.
    """
    if isinstance(model, (str, Path)):
        model = load_for_inference(model, device="auto" if device is None else device)
    else:
        model = on_device(model, device)
    preds = []
    stream = predict_stream(
        model, _as_inputs(x), faces=faces, top_k=top_k, rank_by=rank_by, batch_size=batch_size, workers=workers,
        precision=precision, fps=fps,
    )  # fmt: skip
    for item in stream:
        if isinstance(item, Skipped):
            if not skip_unreadable:
                raise DataError(f"cannot read {item.image}: {item.reason}")
            continue
        preds.append(item)
    return preds


@dataclass
class PredictSummary:
    """What ``predict_files`` did: inputs read, records written (one per face), skipped inputs, seconds."""

    images: int = 0
    records: int = 0
    no_face: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    wait: float = 0.0
    forward: float = 0.0
    out: str | None = None


def predict_files(
    model,
    inputs: Sequence[str | Path] | Inputs,
    out: str | Path | None = None,
    *,
    plot: str | Path | None = None,
    progress: bool = False,
    on_skip: Callable[[Skipped], None] | None = None,
    annotate: str | Path | None = None,
    faces: str = "all",
    top_k: int = 5,
    rank_by: str = "intensity",
    batch_size: int = 32,
    workers: int = 0,
    precision: str = "32",
    fps: float = 2.0,
) -> PredictSummary:
    """Score image files, folders, globs and shards (or what ``collect_inputs`` found in them) with ``model``
    (already on its device) and write the records
    to ``out`` (``.jsonl``, ``.csv``; None or ``-``: JSONL on stdout), with a bar chart per face in ``plot`` (a
    timeline per track for a video), and each image file with its boxes and top-3 emotions drawn in ``annotate``.

    ``on_skip`` is told of each unreadable input as it is met (the run goes on). Other arguments as ``predict``.
    """
    from tqdm import tqdm

    from emozoo.inference.visuals import Visuals
    from emozoo.inference_output import PredictionWriter

    _check(top_k, batch_size, workers, rank_by)
    found = inputs if isinstance(inputs, Inputs) else collect_inputs(inputs)
    summary = PredictSummary(out=None if out is None else str(out))
    timing: dict[str, float] = {}
    counts: dict[str, int] = {}
    total = None if found.videos else found.total  # a video's frame count is known only once it is read
    bar = tqdm(total=total, unit="img", disable=not progress, file=sys.stderr, desc="predict")
    visuals = Visuals(plot, annotate)
    start = time.perf_counter()
    with PredictionWriter(out, min(top_k, model.head.num_emotions)) as writer:
        stream = predict_stream(
            model, found, faces=faces, top_k=top_k, rank_by=rank_by, batch_size=batch_size, workers=workers,
            precision=precision, fps=fps, timing=timing, counts=counts,
        )  # fmt: skip
        for item in stream:
            if isinstance(item, Skipped):
                summary.skipped.append(item)
                if on_skip is not None:
                    on_skip(item)
                bar.update(1)
                continue
            record = item.to_dict()
            writer.write([record])
            if item.face is None or item.face == 0:
                bar.update(1)  # one tick per input: at its first face, or at its no-face record
            visuals.add(record)
        visuals.close()
        summary.records = writer.count
    bar.close()
    summary.seconds = time.perf_counter() - start
    summary.images, summary.no_face = counts.get("images", 0), counts.get("no_face", 0)
    summary.wait, summary.forward = timing.get("wait", 0.0), timing.get("forward", 0.0)
    return summary
