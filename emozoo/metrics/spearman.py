"""Spearman's rank correlation per emotion, exact on heavily tied data (``EmotionSpearman`` and its twin).

Ranks are average (fractional) ranks computed in float64, so they match ``scipy.stats.spearmanr`` to ~1e-12
even at 200k items of mostly-zero 0..7 integers, where ``torchmetrics.SpearmanCorrCoef`` drifts. A NaN in
``preds`` or ``target`` drops that item for that output only. Ranking runs in NumPy on the CPU (see
:mod:`emozoo.metrics.ranks`); the result comes back on the input's device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from emozoo.metrics._utils import (
    as_matrix,
    check_average,
    check_num_outputs,
    check_same_shape,
    reduce_outputs,
    warn_undefined,
)
from emozoo.metrics.ranks import average_ranks_1d

__all__ = ["EmotionSpearman", "average_ranks", "emotion_spearman"]


def _rank_columns(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Average ranks of each column of (N, O) ``x`` among its ``valid`` rows; NaN elsewhere."""
    out = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        m = valid[:, j]
        out[m, j] = average_ranks_1d(x[m, j])
    return out


def average_ranks(x: Any, valid: Any = None) -> Tensor:
    """1-based average ranks of each column of ``x`` (N, O) among its ``valid`` entries, as float64.

    Ties share the mean of the ranks they span (``scipy.stats.rankdata(method="average")``). Entries outside
    ``valid`` (default: the non-NaN ones) are NaN and do not count.

    Example:
        >>> average_ranks(torch.tensor([[0.0], [3.0], [float("nan")], [0.0]])).flatten()
        tensor([1.5000, 3.0000,    nan, 1.5000], dtype=torch.float64)
    """
    xt = torch.as_tensor(x)
    a = xt.detach().to("cpu", torch.float64).numpy()
    m = ~np.isnan(a) if valid is None else torch.as_tensor(valid).cpu().numpy().astype(bool)
    squeeze = a.ndim == 1
    r = _rank_columns(a.reshape(a.shape[0], -1), m.reshape(a.shape[0], -1))
    return torch.from_numpy(r[:, 0] if squeeze else r).to(xt.device)


def _spearman_update(preds: Any, target: Any, num_outputs: int | None) -> tuple[np.ndarray, np.ndarray]:
    preds = as_matrix(preds, "preds", num_outputs)
    target = as_matrix(target, "target", num_outputs)
    check_same_shape(preds, target)
    return preds, target


def _spearman_compute(preds: np.ndarray, target: np.ndarray) -> Tensor:
    """Per-output ρ (O,) of (N, O) float64 inputs; NaN where fewer than 2 items or no variation."""
    # one transpose up front: every later pass then reads a contiguous column
    p = np.ascontiguousarray(preds.T)
    t = np.ascontiguousarray(target.T)
    valid = ~(np.isnan(p) | np.isnan(t))
    rho = np.full(p.shape[0], np.nan)
    for j in range(p.shape[0]):
        m = valid[j]
        n = int(m.sum())
        if n < 2:
            continue
        pj, tj = (p[j], t[j]) if n == m.shape[0] else (p[j, m], t[j, m])
        # average ranks always have mean (n + 1) / 2 exactly; centring keeps the dot products well conditioned
        rp = average_ranks_1d(pj) - (n + 1) / 2
        rt = average_ranks_1d(tj) - (n + 1) / 2
        # einsum, not np.dot: BLAS threads only add overhead on 1-D dots, and stall on a busy machine
        var = np.einsum("i,i->", rp, rp) * np.einsum("i,i->", rt, rt)
        if var > 0:
            rho[j] = np.clip(np.einsum("i,i->", rp, rt) / np.sqrt(var), -1.0, 1.0)
    out = torch.from_numpy(rho)
    warn_undefined(out, "Spearman rho", "fewer than 2 non-NaN pairs, or preds or target constant there")
    return out


def emotion_spearman(preds: Any, target: Any, average: str = "macro") -> Tensor:
    r"""Spearman's ρ between ``preds`` and ``target`` per output, and their mean.

    .. math:: \rho_j = \frac{\operatorname{cov}(R(p_{\cdot j}), R(t_{\cdot j}))}
        {\sigma_{R(p_{\cdot j})}\,\sigma_{R(t_{\cdot j})}}, \qquad \bar\rho = \operatorname{nanmean}_j \rho_j

    where :math:`R` gives average ranks (ties share the mean rank) among the items where both are non-NaN.

    Args:
        preds: (N,) or (N, O) predictions.
        target: same shape as ``preds``; NaN marks a missing target (that item is skipped for that output only).
        average: ``"macro"`` for the mean over outputs where ρ is defined, ``"none"`` for the (O,) tensor.

    Returns:
        A float64 scalar or (O,) tensor. An output with fewer than 2 pairs or no variation is NaN (warned about)
        and left out of the mean.

    Raises:
        ValueError: shapes differ, are not (N,)/(N, O), or N is 0.

    Example:
        >>> import torch
        >>> preds = torch.tensor([[0.1, 3.0], [0.4, 1.0], [0.3, 2.0], [0.9, float("nan")]])
        >>> target = torch.tensor([[0.0, 7.0], [1.0, 0.0], [1.0, 2.0], [5.0, 1.0]])
        >>> emotion_spearman(preds, target, average="none")
        tensor([0.9487, 1.0000], dtype=torch.float64)
        >>> round(emotion_spearman(preds, target).item(), 4)
        0.9743
    """
    check_average(average, ("macro", "none"))
    preds, target = _spearman_update(preds, target, None)
    return reduce_outputs(_spearman_compute(preds, target), average)


class EmotionSpearman(Metric):
    r"""Spearman's ρ per emotion and its mean over emotions, exact under ties and with NaN-masked targets.

    .. math:: \bar\rho = \frac{1}{|J|}\sum_{j\in J}\operatorname{corr}\big(R(p_{\cdot j}), R(t_{\cdot j})\big)

    with average ranks :math:`R` in float64 over the items where both ``preds`` and ``target`` are non-NaN, and
    :math:`J` the outputs where ρ is defined (at least 2 pairs and variation on both sides).

    ``compute()`` returns the mean (``average="macro"``) or the per-emotion tensor (``average="none"``);
    :meth:`compute_per_output` always returns the per-emotion tensor. Ranks need all the data, so the state is
    the concatenated inputs (``"cat"``); under DDP the result equals the single-process one on the union of
    the ranks' data (each rank must have seen at least one batch).

    Args:
        num_outputs: number of emotions (last axis of ``preds``/``target``).
        average: ``"macro"`` or ``"none"``.
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    Example:
        >>> import torch
        >>> metric = EmotionSpearman(num_outputs=2)
        >>> metric.update(torch.tensor([[0.1, 3.0], [0.4, 1.0]]), torch.tensor([[0.0, 7.0], [1.0, 0.0]]))
        >>> metric.update(torch.tensor([[0.3, 2.0], [0.9, 0.5]]), torch.tensor([[1.0, 2.0], [5.0, float("nan")]]))
        >>> metric.compute_per_output()
        tensor([0.9487, 1.0000], dtype=torch.float64)
        >>> round(metric.compute().item(), 4)
        0.9743
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = -1.0
    plot_upper_bound = 1.0

    preds: list[Tensor]
    target: list[Tensor]

    def __init__(self, num_outputs: int = 40, average: str = "macro", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_outputs = check_num_outputs(num_outputs)
        self.average = check_average(average, ("macro", "none"))
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch of (N, num_outputs) predictions and targets (NaN = missing)."""
        preds, target = _spearman_update(preds, target, self.num_outputs)
        self.preds.append(torch.from_numpy(preds).to(self.device))
        self.target.append(torch.from_numpy(target).to(self.device))

    def _per_output(self) -> Tensor:
        if isinstance(self.preds, list) and not self.preds:
            raise ValueError("EmotionSpearman has no data: call update() with at least one batch first")
        preds, target = dim_zero_cat(self.preds), dim_zero_cat(self.target)
        return _spearman_compute(preds.cpu().numpy(), target.cpu().numpy()).to(self.device)

    def compute(self) -> Tensor:
        """ρ averaged over emotions (``average="macro"``) or per emotion (``average="none"``)."""
        return reduce_outputs(self._per_output(), self.average)

    def compute_per_output(self) -> Tensor:
        """ρ per emotion, shape (num_outputs,), synchronised across processes like ``compute()``."""
        with self.sync_context(should_sync=self.sync_on_compute):
            return self._per_output()
