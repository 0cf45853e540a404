"""Scoring a model over batches: the one step and the one loop that ``predict``, ``eval`` and the test stage share.

``forward_batch`` is the step: a batch's images through the whole model, or its cached embeddings through the
head alone. ``score_batches`` is the loop of ``emozoo.inference.predict`` and ``emozoo.inference.evaluate``: it
moves each batch to the model's device, normalises uint8 images there (the transform's per-batch half), opens
the autocast of that device and yields float32 CPU outputs next to the batch.

Why the test stage keeps a loop of its own (Lightning's): under ``Trainer.test`` the strategy owns the device, the
precision plugin owns autocast, and the batches of every rank must reach the same ``Metric`` states, which DDP
reduces once at the end; a second loop beside Lightning's would have to redo all three. ``EmotionModule`` calls
``forward_batch`` for its step, so what a batch means stays in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from emozoo.backbones.transforms import BatchNormalize
from emozoo.devices import autocast, module_device, to_device

__all__ = ["forward_batch", "score_batches"]

INPUT_KEYS = ("image", "embedding")


def forward_batch(model: nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """``model``'s outputs for a batch: ``batch["embedding"]`` (cached embeddings) through the head only, else
    ``batch["image"]`` (normalised float images) through the whole model."""
    if "embedding" in batch:
        return model.forward_embeddings(batch["embedding"].float())
    return model(batch["image"])


def score_batches(
    model: nn.Module,
    batches: Iterable[dict[str, Any]],
    precision: str = "32",
    timing: dict[str, float] | None = None,
) -> Iterator[tuple[dict[str, Any], dict[str, torch.Tensor] | None]]:
    """``(batch, outputs)`` for every batch: outputs in float32 on the CPU, None for a batch without samples.

    A batch holds ``image`` (uint8, normalised here on the model's device by its ``BatchNormalize``, or float,
    already normalised) or ``embedding``, and ``num_samples`` (0: only bad samples to report; missing: count the
    inputs). The model runs where it is, in eval mode (its own mode comes back when the loop ends), under
    ``inference_mode`` and the autocast of ``precision`` on that device.

    Args:
        timing: if given, accumulates ``wait`` (seconds blocked on ``batches``: loading not hidden behind the
            model) and ``forward`` (seconds moving, normalising and running the model).
    """
    device = module_device(model)
    normalize: BatchNormalize | None = None
    timing = timing if timing is not None else {}
    timing.setdefault("wait", 0.0)
    timing.setdefault("forward", 0.0)
    it = iter(batches)
    was_training = model.training
    model.eval()
    try:
        while True:
            t0 = time.perf_counter()
            batch = next(it, None)
            t1 = time.perf_counter()
            timing["wait"] += t1 - t0
            if batch is None:
                return
            if not batch.get("num_samples", 1) or not any(batch.get(k) is not None for k in INPUT_KEYS):
                yield batch, None
                continue
            inputs = to_device({k: batch[k] for k in INPUT_KEYS if batch.get(k) is not None}, device)
            image = inputs.get("image")
            if image is not None and not image.is_floating_point():
                normalize = normalize or BatchNormalize.from_config(model.data_config)
                inputs["image"] = normalize(image)
            with torch.inference_mode(), autocast(precision, device):
                out = forward_batch(model, inputs)
            outputs = {k: v.float().cpu() for k, v in out.items()}
            timing["forward"] += time.perf_counter() - t1
            yield batch, outputs
    finally:
        model.train(was_training)
