"""Cohen's weighted κ per emotion from a confusion-matrix state (``WeightedKappa`` and its twin).

Continuous 0..7 intensities are binned into ``num_classes`` ordinal labels first. The default, ``"truncate"``,
is the authors' ``astype(int)``: 3.9 is label 3. The state is a (num_outputs, C, C) integer confusion matrix, so
batches and DDP ranks add up exactly. The weights act on the full declared scale 0..C-1, which equals
``sklearn.metrics.cohen_kappa_score(y1, y2, weights=..., labels=range(C))``; sklearn *without* ``labels``
re-indexes to the labels it sees, which changes the weights when an inner label is absent from both raters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from emozoo.metrics._utils import (
    as_float64,
    as_matrix,
    check_average,
    check_num_outputs,
    check_same_shape,
    reduce_outputs,
    warn_undefined,
)

__all__ = ["WeightedKappa", "bin_ratings", "kappa_confusion", "kappa_from_confusion", "weighted_kappa"]

WEIGHTS = ("quadratic", "linear", None)
BINNINGS = ("truncate", "round")


def _check_options(num_classes: int, weights: str | None, binning: str) -> None:
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if binning not in BINNINGS:
        raise ValueError(f"binning must be one of {BINNINGS}, got {binning!r}")


def _bin(x: np.ndarray, num_classes: int, binning: str, name: str) -> np.ndarray:
    """Integer labels 0..C-1 of float ratings, -1 where NaN; ValueError outside [0, C-1]."""
    with np.errstate(invalid="ignore"):
        bad = (x < 0) | (x > num_classes - 1)  # NaN compares False: only real values can fail
    if bad.any():
        vals = x[~np.isnan(x)]
        raise ValueError(
            f"{name} has values in [{vals.min():g}, {vals.max():g}], outside the declared scale "
            f"[0, {num_classes - 1}] of num_classes={num_classes}; clip or rescale them first"
        )
    # "round" is half-to-even like numpy.round; "truncate" is astype(int) on non-negative values
    binned = np.round(x) if binning == "round" else np.trunc(x)
    return np.where(np.isnan(x), -1, binned).astype(np.int64)


def bin_ratings(x: Any, num_classes: int, binning: str = "truncate", name: str = "ratings") -> Tensor:
    """Integer labels 0..C-1 of float ratings, -1 where NaN.

    Raises:
        ValueError: a non-NaN value lies outside the declared scale [0, num_classes - 1].
    """
    return torch.from_numpy(_bin(as_float64(x, name), num_classes, binning, name))


def kappa_confusion(
    preds: Any, target: Any, num_classes: int = 8, binning: str = "truncate", num_outputs: int | None = None
) -> Tensor:
    """(O, C, C) int64 confusion counts ``[o, preds label, target label]``, skipping pairs with a NaN."""
    preds = as_matrix(preds, "preds", num_outputs)
    target = as_matrix(target, "target", num_outputs)
    check_same_shape(preds, target)
    a = _bin(preds, num_classes, binning, "preds")
    b = _bin(target, num_classes, binning, "target")
    n_out, c = preds.shape[1], num_classes
    key = (np.arange(n_out) * c + a) * c + b
    # pairs with a missing side go to one spare bin past the end, dropped below
    key = np.where((a >= 0) & (b >= 0), key, n_out * c * c)
    counts = np.bincount(key.ravel(), minlength=n_out * c * c + 1)
    return torch.from_numpy(counts[:-1].reshape(n_out, c, c))


def kappa_from_confusion(confusion: Tensor, weights: str | None = "quadratic") -> Tensor:
    r"""Weighted κ of each (C, C) confusion matrix in ``confusion`` (..., C, C); NaN where undefined."""
    cm = confusion.to(torch.float64)
    c = cm.shape[-1]
    idx = torch.arange(c, dtype=torch.float64, device=cm.device)
    diff = idx[:, None] - idx[None, :]
    w = diff.abs() if weights == "linear" else diff**2 if weights == "quadratic" else (diff != 0).to(cm.dtype)
    n = cm.sum((-2, -1))
    expected = cm.sum(-1)[..., :, None] * cm.sum(-2)[..., None, :] / n[..., None, None]
    observed_d = (w * cm).sum((-2, -1))
    expected_d = (w * expected).sum((-2, -1))
    ok = (n > 0) & (expected_d > 0)
    kappa = torch.where(ok, 1 - observed_d / torch.where(ok, expected_d, 1.0), float("nan"))
    warn_undefined(kappa.reshape(-1), "weighted kappa", "no pairs, or both raters used a single label")
    return kappa


def weighted_kappa(
    preds: Any,
    target: Any,
    num_classes: int = 8,
    weights: str | None = "quadratic",
    binning: str = "truncate",
    average: str = "macro",
) -> Tensor:
    r"""Cohen's weighted κ between two raters per output, averaged (``"macro"``), pooled (``"micro"``) or not.

    .. math:: \kappa = 1 - \frac{\sum_{ij} w_{ij} O_{ij}}{\sum_{ij} w_{ij} E_{ij}},\qquad
        E_{ij} = \frac{O_{i\cdot}\,O_{\cdot j}}{n},\qquad w_{ij} = (i - j)^2 \text{ or } |i - j|

    with :math:`O` the confusion matrix of the binned labels over the items where both are non-NaN.

    Args:
        preds: (N,) or (N, O) ratings of the first rater (or model), on the scale [0, num_classes - 1].
        target: same shape, ratings of the second rater; NaN skips that pair for that output.
        num_classes: C, the number of ordinal labels 0..C-1.
        weights: ``"quadratic"``, ``"linear"`` or ``None`` (unweighted κ).
        binning: ``"truncate"`` (``astype(int)``, the authors' choice) or ``"round"`` (half-to-even).
        average: ``"macro"`` mean of per-output κ, ``"micro"`` κ of the summed confusion, ``"none"`` per output.

    Returns:
        A float64 scalar or (O,) tensor; NaN (warned about) where there are no pairs or no variation.

    Raises:
        ValueError: shapes differ, input is empty, or a value lies outside [0, num_classes - 1].

    Example:
        >>> import torch
        >>> a = torch.tensor([0.0, 1.5, 2.9, 7.0, 3.2, float("nan")])
        >>> b = torch.tensor([0.0, 1.0, 3.0, 6.5, 3.9, 2.0])
        >>> round(weighted_kappa(a, b).item(), 4)
        0.9603
    """
    _check_options(num_classes, weights, binning)
    check_average(average)
    cm = kappa_confusion(preds, target, num_classes, binning)
    if average == "micro":
        return kappa_from_confusion(cm.sum(0), weights)
    return reduce_outputs(kappa_from_confusion(cm, weights), average)


class WeightedKappa(Metric):
    r"""Cohen's weighted κ per emotion between predictions and one rater, from a summed confusion matrix.

    .. math:: \kappa_j = 1 - \frac{\sum_{ab} w_{ab} O^{(j)}_{ab}}{\sum_{ab} w_{ab} E^{(j)}_{ab}}

    ``compute()`` returns the mean over emotions (``average="macro"``), the κ of the confusion summed over
    emotions (``"micro"``) or the per-emotion tensor (``"none"``); :meth:`compute_per_output` always gives
    the latter. The state is an int64 (num_outputs, C, C) confusion matrix, summed across DDP ranks.

    Args:
        num_classes: C, the number of ordinal labels 0..C-1 (8 for the 0..7 scale).
        weights: ``"quadratic"`` (paper), ``"linear"`` or ``None``.
        binning: ``"truncate"`` (paper, ``astype(int)``) or ``"round"``.
        num_outputs: number of emotions.
        average: ``"macro"``, ``"micro"`` or ``"none"``.
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    Example:
        >>> import torch
        >>> metric = WeightedKappa(num_outputs=2)
        >>> metric.update(torch.tensor([[0.0, 7.0], [2.5, 1.0]]), torch.tensor([[0.2, 6.0], [2.0, 1.0]]))
        >>> metric.update(torch.tensor([[4.0, 0.0]]), torch.tensor([[5.9, 0.5]]))
        >>> metric.compute_per_output()
        tensor([0.9524, 0.9799], dtype=torch.float64)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = -1.0
    plot_upper_bound = 1.0

    confusion: Tensor
    n_items: Tensor

    def __init__(
        self,
        num_classes: int = 8,
        weights: str | None = "quadratic",
        binning: str = "truncate",
        num_outputs: int = 40,
        average: str = "macro",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_options(num_classes, weights, binning)
        self.num_classes, self.weights, self.binning = num_classes, weights, binning
        self.num_outputs = check_num_outputs(num_outputs)
        self.average = check_average(average)
        zeros = torch.zeros(num_outputs, num_classes, num_classes, dtype=torch.long)
        self.add_state("confusion", default=zeros, dist_reduce_fx="sum")
        # items seen, to tell "no update yet" (an error) from "no complete pair" (NaN)
        self.add_state("n_items", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch of (N, num_outputs) ratings; NaN in either skips that pair."""
        cm = kappa_confusion(preds, target, self.num_classes, self.binning, self.num_outputs)
        self.confusion += cm.to(self.confusion.device)
        self.n_items += len(preds)

    def _check_data(self) -> None:
        if int(self.n_items) == 0:
            raise ValueError("WeightedKappa has no data: call update() with at least one batch first")

    def compute(self) -> Tensor:
        """κ averaged, pooled or per emotion, as chosen by ``average``."""
        self._check_data()
        if self.average == "micro":
            return kappa_from_confusion(self.confusion.sum(0), self.weights)
        return reduce_outputs(kappa_from_confusion(self.confusion, self.weights), self.average)

    def compute_per_output(self) -> Tensor:
        """κ per emotion, shape (num_outputs,), synchronised across processes like ``compute()``."""
        with self.sync_context(should_sync=self.sync_on_compute):
            self._check_data()
            return kappa_from_confusion(self.confusion, self.weights)
