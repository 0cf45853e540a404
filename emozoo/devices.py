"""Devices and precisions for running a model: ``--device auto|cpu|cuda|cuda:N|mps`` and ``--precision 32|bf16``.

``resolve_device`` turns what a user typed into a ``torch.device`` that exists on this machine, or a one-line
error. ``autocast`` opens bf16 autocast for the device the model is on (not for whatever accelerator happens to
be present: a CUDA autocast around a CPU model changes nothing). ``to_device`` moves a batch's tensors with
``non_blocking=True``, which overlaps the copy with other work when the batch sits in pinned memory
(``pin_memory``: DataLoaders pin their batches when the model is on CUDA).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import torch
from torch import nn

from emozoo.errors import ConfigError

__all__ = [
    "DEVICES",
    "PRECISIONS",
    "autocast",
    "module_device",
    "pin_memory",
    "resolve_device",
    "to_device",
    "training_precision",
]

PRECISIONS = ("32", "bf16")
DEVICES = "auto, cpu, cuda, cuda:N or mps"  # for help texts and errors
_DEVICE_RE = re.compile(r"(cpu|mps|cuda)(?::(\d+))?")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The device ``spec`` names, checked against this machine; ``auto`` (or None) picks CUDA, then MPS, then CPU.

    Raises:
        ConfigError: an unknown spelling, or a device this machine does not have (the message says which exist).
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    text = str(spec).strip().lower()
    match = _DEVICE_RE.fullmatch(text)
    if match is None or (match[1] != "cuda" and match[2] is not None and match[2] != "0"):
        raise ConfigError(f"unknown device {str(spec)!r}; use {DEVICES}")
    kind, index = match[1], match[2]
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {text!r}: CUDA is not available here (no GPU visible); use cpu or auto")
        count = torch.cuda.device_count()
        if index is not None and int(index) >= count:
            raise ConfigError(f"device {text!r} does not exist: {count} CUDA device(s) here (cuda:0..cuda:{count - 1})")
    if kind == "mps" and not _mps_available():
        raise ConfigError(f"device {text!r}: Apple MPS is not available here; use cpu or auto")
    return torch.device(kind) if index is None or kind != "cuda" else torch.device(kind, int(index))


def module_device(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (or buffer); the CPU for a module without either."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device``'s type for ``bf16``; nothing for ``32``.

    Raises:
        ValueError: an unknown precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def pin_memory(device: torch.device) -> bool:
    """Whether loaders feeding a model on ``device`` should pin their batches: CUDA copies from pinned memory
    run asynchronously; on the CPU and MPS pinning only costs a copy."""
    return device.type == "cuda"


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """``batch`` with its tensors on ``device`` (``non_blocking``: asynchronous from pinned memory)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def training_precision(precision: str, accelerator: str = "auto") -> str:
    """Lightning's ``precision`` for training, with ``auto`` resolved by a documented rule.

    ``auto``: ``bf16-mixed`` on a CUDA GPU that supports bf16 (``16-mixed`` on one that does not), ``32-true``
    everywhere else. Why fp32 on the CPU: bf16 autocast there is emulated or slow on the CPUs we measured
    (bench/README.md): 14x slower than fp32 for cnn-tiny on a 2-core AMD EPYC with AVX2 only (no native bf16),
    and 0.84x on an Intel Xeon with avx512_bf16. Any other value is passed through unchanged.
    """
    if precision != "auto":
        return precision
    gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    if gpu:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"
