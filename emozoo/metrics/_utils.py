"""Input checks and reductions shared by the agreement metrics.

Inputs are turned into float64 NumPy arrays on the CPU before any work: the per-batch work is a few elementwise
passes and a bincount, which NumPy does on one thread, while torch's intra-op thread pool costs more than it saves
on such small tensors and stalls badly when the cores are shared (DataLoader workers, other jobs). States and
results are torch tensors on the metric's device.

Every metric turns bad input (wrong shape, empty batch, values outside the declared range) into a ``ValueError``
that names the argument and what was expected, so that a wrong call never shows up later as a silent NaN.
A result that is *mathematically* undefined (no variation, fewer than two pairs) is NaN with an
:class:`UndefinedMetricWarning` that says which outputs and why.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "AVERAGES",
    "Average",
    "UndefinedMetricWarning",
    "as_float64",
    "as_matrix",
    "check_average",
    "check_num_outputs",
    "check_same_shape",
    "nanmean",
    "reduce_outputs",
    "warn_undefined",
]

Average = Literal["macro", "micro", "none"]
AVERAGES = ("macro", "micro", "none")


class UndefinedMetricWarning(UserWarning):
    """A metric is NaN for some outputs because it is undefined there (no variation, too few pairs)."""


def check_average(average: str, allowed: tuple[str, ...] = AVERAGES) -> str:
    if average not in allowed:
        raise ValueError(f"average must be one of {allowed}, got {average!r}")
    return average


def check_num_outputs(num_outputs: int) -> int:
    if not isinstance(num_outputs, int) or isinstance(num_outputs, bool) or num_outputs < 1:
        raise ValueError(f"num_outputs must be a positive int, got {num_outputs!r}")
    return num_outputs


def as_float64(x: object, name: str) -> np.ndarray:
    """``x`` (tensor on any device, array or nested list) as a float64 NumPy array; bools become 0/1."""
    if isinstance(x, Tensor):
        if x.is_complex():
            raise ValueError(f"{name} must be real-valued, got dtype {x.dtype}")
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numbers, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def as_matrix(x: object, name: str, num_outputs: int | None, trailing: int = 0) -> np.ndarray:
    """``x`` as float64 with shape ``(N, *middle, num_outputs)``; a missing output axis is added when it is 1.

    Args:
        x: the input.
        name: argument name for error messages.
        num_outputs: expected size of the last axis, or ``None`` to accept any (then a 1-D input is one output).
        trailing: number of axes between the item axis and the output axis (1 for ``(items, raters, outputs)``).
    """
    t = as_float64(x, name)
    ndim = 2 + trailing
    if t.ndim == ndim - 1 and num_outputs in (1, None):
        t = t[..., None]
    if t.ndim != ndim:
        layout = "(N, raters, outputs)" if trailing else "(N, outputs)"
        raise ValueError(f"{name} must have shape {layout}, got {tuple(t.shape)}")
    if num_outputs is not None and t.shape[-1] != num_outputs:
        raise ValueError(f"{name} has {t.shape[-1]} outputs in its last axis, expected num_outputs={num_outputs}")
    if t.size == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}): nothing to score")
    return t


def check_same_shape(preds: np.ndarray, target: np.ndarray) -> None:
    if preds.shape != target.shape:
        raise ValueError(
            f"preds and target must have the same shape, got {tuple(preds.shape)} and {tuple(target.shape)}"
        )


def warn_undefined(values: Tensor, metric: str, why: str) -> None:
    """Warn once per call, naming the outputs whose value is NaN."""
    bad = torch.nonzero(torch.isnan(values)).flatten().tolist()
    if bad:
        shown = ", ".join(str(i) for i in bad[:10]) + (", ..." if len(bad) > 10 else "")
        warnings.warn(f"{metric} is undefined (NaN) for output(s) {shown}: {why}", UndefinedMetricWarning, stacklevel=3)


def nanmean(values: Tensor) -> Tensor:
    """Mean over the finite entries; NaN (without a warning of its own) when there are none."""
    ok = ~torch.isnan(values)
    if not bool(ok.any()):
        return torch.tensor(float("nan"), dtype=values.dtype, device=values.device)
    return values[ok].mean()


def reduce_outputs(per_output: Tensor, average: str) -> Tensor:
    """``"macro"``: mean over outputs where defined; ``"none"``: the per-output tensor."""
    return per_output if average == "none" else nanmean(per_output)
