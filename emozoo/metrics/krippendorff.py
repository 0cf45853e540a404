r"""Krippendorff's α per emotion from DDP-summable sufficient statistics (``KrippendorffAlpha`` and its twin).

.. math:: \alpha = 1 - \frac{D_o}{D_e} = 1 - (n - 1)\frac{\sum_{ck} o_{ck}\,\delta_{ck}}{\sum_{ck} n_c n_k\,\delta_{ck}}

with :math:`o` the value-by-value coincidence matrix over the *pairable* values (units rated at least twice),
:math:`n_c` its margins, :math:`n` their total and :math:`\delta` the level's distance. Two exact states:

- **Coincidence matrix** (any level): needs a finite value domain, declared as ``num_values=K`` (integers
  0..K-1) or ``value_domain=[...]`` (numbers). A value outside it raises ``ValueError``.
- **Moments** (``level="interval"`` with no domain, for continuous ratings): per output the scalars
  :math:`n`, :math:`\sum v`, :math:`\sum v^2` over pairable values and
  :math:`A = \sum_u m_u \sum_{i \in u}(v_i - \bar v_u)^2 / (m_u - 1)`, since for the squared distance
  :math:`\sum o\delta = 2A` and :math:`\sum n_c n_k \delta = 2(n\sum v^2 - (\sum v)^2)`.

The moments state subtracts two large sums, :math:`n\sum v^2 - (\sum v)^2`: in float64 that is exact to ~1e-12
for ratings on a scale like 0..7, but not for values riding on a huge offset (1e6 ± 0.01; shift them first).

Both are sums over units, so batches and DDP ranks add up; a unit (item) must arrive whole in one ``update``.
Results match ``krippendorff.alpha`` (the PyPI package) including missing values; where that package raises
(one value in the domain, no unit rated twice) this returns NaN with an :class:`UndefinedMetricWarning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from emozoo.metrics._utils import as_matrix, check_average, check_num_outputs, reduce_outputs, warn_undefined

__all__ = ["LEVELS", "KrippendorffAlpha", "krippendorff_alpha", "krippendorff_alpha_units"]

LEVELS = ("nominal", "ordinal", "interval", "ratio")
_WHY = "no unit rated at least twice, or no variation among the pairable values"


def _domain(level: str, value_domain: Sequence[float] | None, num_values: int | None) -> Tensor | None:
    """The sorted value domain, or ``None`` for the moments state (interval level, continuous values)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if value_domain is not None and num_values is not None:
        raise ValueError("give value_domain or num_values, not both")
    if num_values is not None:
        if not isinstance(num_values, int) or num_values < 1:
            raise ValueError(f"num_values must be a positive int, got {num_values!r}")
        return torch.arange(num_values, dtype=torch.float64)
    if value_domain is not None:
        dom = torch.as_tensor(value_domain, dtype=torch.float64).flatten()
        if dom.numel() == 0 or not bool(torch.isfinite(dom).all()):
            raise ValueError("value_domain must be a non-empty list of finite numbers")
        dom = torch.unique(dom)  # sorted: ordinal, interval and ratio distances follow numeric order
        return dom
    if level != "interval":
        raise ValueError(f"level={level!r} needs a finite value domain: pass num_values=K or value_domain=[...]")
    return None


def _codes(ratings: np.ndarray, domain: Tensor) -> np.ndarray:
    """Index of each rating in ``domain``, -1 where NaN; ValueError for a value outside it."""
    dom = domain.numpy()
    ok = ~np.isnan(ratings)
    idx = np.searchsorted(dom, np.where(ok, ratings, dom[0])).clip(max=dom.size - 1)
    bad = ok & (dom[idx] != ratings)
    if bad.any():
        shown = sorted({float(v) for v in ratings[bad][:5]})
        raise ValueError(f"ratings has value(s) {shown} outside the declared value domain {dom.tolist()}")
    return np.where(ok, idx, -1)


def _coincidences(ratings: np.ndarray, domain: Tensor) -> Tensor:
    """(O, V, V) coincidence matrix of (N, R, O) ratings: sum over units of (n_uc n_uk - δ_ck n_uc) / (m_u - 1)."""
    codes = _codes(ratings, domain)
    n_items, _, n_out = codes.shape
    v = domain.numel()
    out = np.zeros((n_out, v, v))
    chunk = max(1, (1 << 22) // (n_out * v))  # bound the (items, outputs, values) count array to ~32 MB
    for s in range(0, n_items, chunk):
        c = codes[s : s + chunk]
        n = c.shape[0]
        unit = np.arange(n * n_out).reshape(n, 1, n_out)
        key = np.where(c >= 0, unit * v + c, n * n_out * v)  # missing ratings to a spare bin, dropped
        counts = np.bincount(key.ravel(), minlength=n * n_out * v + 1)[:-1].reshape(n, n_out, v).astype(np.float64)
        m = counts.sum(-1)
        w = np.where(m >= 2, 1.0 / np.maximum(m - 1, 1), 0.0)  # units rated once have no pairs
        wc = counts * w[..., None]
        # einsum without BLAS: V is tiny, and a threaded GEMM only adds overhead here
        out += np.einsum("nov,now->ovw", wc, counts)
        out[:, np.arange(v), np.arange(v)] -= wc.sum(0)
    return torch.from_numpy(out)


def _alpha_from_coincidences(o: Tensor, domain: Tensor, level: str) -> Tensor:
    """α of each (V, V) coincidence matrix in ``o`` (..., V, V)."""
    dom = domain.to(o.device)
    n_v = o.sum(-1)
    n = n_v.sum(-1)
    e = (n_v[..., :, None] * n_v[..., None, :] - torch.diag_embed(n_v)) / (n - 1)[..., None, None]
    a, b = dom[:, None], dom[None, :]
    if level == "nominal":
        d = (a != b).to(o.dtype)
    elif level == "interval":
        d = (a - b) ** 2
    elif level == "ratio":
        s = a + b
        d = torch.where(s != 0, (a - b) / torch.where(s != 0, s, 1.0), 0.0) ** 2
    else:  # ordinal: values between c and k, counted by their pairable frequency, half-weighting the ends
        cs = n_v.cumsum(-1)
        d = (cs[..., None, :] - cs[..., :, None] + (n_v[..., :, None] - n_v[..., None, :]) / 2) ** 2
    observed = (o * d).sum((-2, -1))
    expected = (e * d).sum((-2, -1))
    ok = (n >= 2) & (expected > 0)
    return torch.where(ok, 1 - observed / torch.where(ok, expected, 1.0), float("nan"))


def _moments(ratings: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
    """Per output: (n, Σv, Σv², A) over pairable values (O, 4), and their min and max (O,)."""
    if np.isinf(ratings).any():
        raise ValueError("ratings must be finite numbers or NaN (missing); found inf")
    ok = ~np.isnan(ratings)
    m = ok.sum(1, keepdims=True)  # (N, 1, O) ratings per unit
    pairable = ok & (m >= 2)
    v = np.where(pairable, ratings, 0.0)
    mean = v.sum(1, keepdims=True) / np.maximum(m, 1)
    ss = np.where(pairable, (v - mean) ** 2, 0.0).sum(1)  # centred per unit: no cancellation
    mu = m[:, 0]
    a = np.where(mu >= 2, mu * ss / np.maximum(mu - 1, 1), 0.0)
    stats = np.stack([pairable.sum((0, 1)), v.sum((0, 1)), (v * v).sum((0, 1)), a.sum(0)], -1).astype(np.float64)
    vmin = np.where(pairable, ratings, np.inf).min((0, 1))
    vmax = np.where(pairable, ratings, -np.inf).max((0, 1))
    return torch.from_numpy(stats), torch.from_numpy(vmin), torch.from_numpy(vmax)


def _alpha_from_moments(stats: Tensor, vmin: Tensor, vmax: Tensor) -> Tensor:
    n, s1, s2, a = stats.unbind(-1)
    expected = n * s2 - s1 * s1
    # min == max catches "no variation" exactly, where the moment difference may be rounding noise
    ok = (n >= 2) & (vmax > vmin) & (expected > 0)
    return torch.where(ok, 1 - (n - 1) * a / torch.where(ok, expected, 1.0), float("nan"))


def _unit_moments(unit: np.ndarray, value: np.ndarray, unit_output: np.ndarray, num_outputs: int):
    """:func:`_moments` of sparse ratings: ``unit`` (K,) unit index of each value, ``unit_output`` (U,) output."""
    m = np.bincount(unit, minlength=unit_output.size)
    mean = np.bincount(unit, value, minlength=m.size) / np.maximum(m, 1)
    ss = np.bincount(unit, (value - mean[unit]) ** 2, minlength=m.size)  # centred per unit: no cancellation
    pair_u = m >= 2
    pairable = pair_u[unit]
    out_k = unit_output[unit][pairable]
    v = value[pairable]
    a = np.where(pair_u, m * ss / np.maximum(m - 1, 1), 0.0)
    stats = np.stack(
        [
            np.bincount(out_k, minlength=num_outputs).astype(np.float64),
            np.bincount(out_k, v, minlength=num_outputs),
            np.bincount(out_k, v * v, minlength=num_outputs),
            np.bincount(unit_output, a, minlength=num_outputs),
        ],
        -1,
    )
    vmin, vmax = np.full(num_outputs, np.inf), np.full(num_outputs, -np.inf)
    np.minimum.at(vmin, out_k, v)
    np.maximum.at(vmax, out_k, v)
    return torch.from_numpy(stats), torch.from_numpy(vmin), torch.from_numpy(vmax)


def _unit_coincidences(unit: np.ndarray, codes: np.ndarray, unit_output: np.ndarray, num_outputs: int, v: int):
    """:func:`_coincidences` of sparse ratings sorted by ``unit``, a chunk of units at a time."""
    out = np.zeros((num_outputs, v, v))
    n_units = unit_output.size
    chunk = max(1, (1 << 20) // (v * v))  # bounds the (units, V, V) products to ~8 MB
    bounds = np.searchsorted(unit, np.arange(0, n_units + chunk, chunk))
    for s, (lo, hi) in zip(range(0, n_units, chunk), zip(bounds[:-1], bounds[1:])):
        n = min(chunk, n_units - s)
        counts = np.bincount((unit[lo:hi] - s) * v + codes[lo:hi], minlength=n * v).reshape(n, v).astype(float)
        m = counts.sum(-1)
        w = np.where(m >= 2, 1.0 / np.maximum(m - 1, 1), 0.0)
        wc = counts * w[:, None]
        prod = (wc[:, :, None] * counts[:, None, :]).reshape(n, v * v)
        outs = unit_output[s : s + n]
        for cell in range(v * v):
            out[:, cell // v, cell % v] += np.bincount(outs, prod[:, cell], minlength=num_outputs)
        for c in range(v):
            out[:, c, c] -= np.bincount(outs, wc[:, c], minlength=num_outputs)
    return torch.from_numpy(out)


def krippendorff_alpha_units(
    unit: Any,
    value: Any,
    unit_output: Any,
    num_outputs: int,
    level: str = "interval",
    value_domain: Sequence[float] | None = None,
    num_values: int | None = None,
    average: str = "macro",
) -> Tensor:
    """Krippendorff's α from sparse ratings, in memory proportional to their number (not items x raters).

    The same α as :func:`krippendorff_alpha` on the dense table: α does not depend on who gave a value, only on
    the values each unit received, so a rating is just (unit, value).

    Args:
        unit: (K,) int, the unit (e.g. one (image, emotion)) of each rating, 0..U-1.
        value: (K,) float, the ratings (no NaN: a missing rating is simply absent).
        unit_output: (U,) int, the output (emotion) 0..num_outputs-1 of each unit.
        num_outputs: O.
        level, value_domain, num_values, average: as :func:`krippendorff_alpha`.

    Returns:
        A float64 scalar or (O,) tensor; NaN (warned about) where α is undefined.
    """
    domain = _domain(level, value_domain, num_values)
    check_average(average)
    unit = np.asarray(unit, dtype=np.int64)
    value = np.asarray(value, dtype=np.float64)
    unit_output = np.asarray(unit_output, dtype=np.int64)
    if not np.isfinite(value).all():
        raise ValueError("ratings must be finite numbers (leave a missing rating out)")
    if average == "micro":  # every unit one unit of a single variable
        unit_output, num_outputs = np.zeros_like(unit_output), 1
    order = np.argsort(unit, kind="stable")
    unit, value = unit[order], value[order]
    if domain is None:
        alpha = _alpha_from_moments(*_unit_moments(unit, value, unit_output, num_outputs))
    else:
        codes = _codes(value, domain)
        o = _unit_coincidences(unit, codes, unit_output, num_outputs, domain.numel())
        alpha = _alpha_from_coincidences(o, domain, level)
    warn_undefined(alpha, "Krippendorff's alpha", _WHY)
    return alpha[0] if average == "micro" else reduce_outputs(alpha, average)


def _check_ratings(ratings: Any, num_outputs: int | None) -> np.ndarray:
    return as_matrix(ratings, "ratings", num_outputs, trailing=1)


def krippendorff_alpha(
    ratings: Any,
    level: str = "interval",
    value_domain: Sequence[float] | None = None,
    num_values: int | None = None,
    average: str = "macro",
) -> Tensor:
    r"""Krippendorff's α of a reliability table, per output and averaged.

    .. math:: \alpha = 1 - \frac{D_o}{D_e}

    Args:
        ratings: (items, raters) or (items, raters, outputs) with NaN where a rater did not rate an item.
        level: ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``.
        value_domain: the possible values (numbers); or
        num_values: K for the integer domain 0..K-1. With neither, only ``level="interval"`` works (moments).
        average: ``"macro"`` mean over outputs, ``"micro"`` α of all outputs pooled (each (item, output) a
            unit), or ``"none"`` per output.

    Returns:
        A float64 scalar or (outputs,) tensor; NaN (warned about) where α is undefined.

    Raises:
        ValueError: bad shape, no items, a value outside the domain, or a level without a needed domain.

    Example:
        >>> import math
        >>> nan = math.nan
        >>> data = [[nan, 1, nan], [nan, nan, nan], [nan, 2, 2], [nan, 1, 1], [nan, 3, 3], [3, 3, 4],
        ...         [4, 4, 4], [1, 3, nan], [2, nan, 2], [1, nan, 1], [1, nan, 1], [3, nan, 3], [3, nan, 3],
        ...         [nan, nan, nan], [3, nan, 4]]  # items x raters (Krippendorff's textbook example)
        >>> round(krippendorff_alpha(data, "nominal", num_values=5).item(), 6)
        0.691358
        >>> round(krippendorff_alpha(data, "interval").item(), 6)
        0.810845
    """
    domain = _domain(level, value_domain, num_values)
    check_average(average)
    r = _check_ratings(ratings, None)
    if average == "micro":  # every (item, output) becomes a unit of one variable
        r = r.transpose(0, 2, 1).reshape(-1, r.shape[1], 1)
    if domain is None:
        alpha = _alpha_from_moments(*_moments(r))
    else:
        alpha = _alpha_from_coincidences(_coincidences(r, domain), domain, level)
    warn_undefined(alpha, "Krippendorff's alpha", _WHY)
    return alpha[0] if average == "micro" else reduce_outputs(alpha, average)


class KrippendorffAlpha(Metric):
    r"""Krippendorff's α per emotion over any number of raters with missing ratings, DDP-summable.

    .. math:: \alpha_j = 1 - (n_j - 1)\frac{\sum_{ck} o^{(j)}_{ck}\delta_{ck}}{\sum_{ck} n^{(j)}_c n^{(j)}_k\delta_{ck}}

    ``update(ratings)`` takes (items, raters, num_outputs) — or (items, raters) when ``num_outputs=1`` — with
    NaN for missing ratings; each item's ratings must come in one call. The state is the (num_outputs, V, V)
    coincidence matrix when a domain is declared, else (interval level only) the per-output moments
    described in the module docstring; both are summed across DDP ranks. ``compute()`` reduces by ``average``
    (``"macro"``: mean over emotions; ``"micro"``: pooled; ``"none"``); :meth:`compute_per_output` gives the
    per-emotion tensor.

    Args:
        level: ``"nominal"``, ``"ordinal"``, ``"interval"`` (paper) or ``"ratio"``.
        num_outputs: number of emotions.
        value_domain: the possible values, e.g. ``[0, 1]``; or
        num_values: K for the integer values 0..K-1 (8 for integer 0..7 ratings).
        average: ``"macro"``, ``"micro"`` or ``"none"``.
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    Example:
        >>> import torch
        >>> nan = float("nan")
        >>> metric = KrippendorffAlpha(level="ordinal", num_outputs=1, num_values=5)
        >>> metric.update(torch.tensor([[1, 1, nan], [2, 2, 3], [4, 4, 4]]))
        >>> metric.update(torch.tensor([[0, 1, 1], [3, nan, nan]]))
        >>> round(metric.compute().item(), 4)
        0.9246
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = -1.0
    plot_upper_bound = 1.0

    def __init__(
        self,
        level: str = "interval",
        num_outputs: int = 40,
        value_domain: Sequence[float] | None = None,
        num_values: int | None = None,
        average: str = "macro",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.level = level
        self.domain = _domain(level, value_domain, num_values)
        self.num_outputs = check_num_outputs(num_outputs)
        self.average = check_average(average)
        f64 = torch.float64
        # items seen, to tell "no update yet" (an error) from "nothing pairable" (NaN)
        self.add_state("n_items", default=torch.tensor(0), dist_reduce_fx="sum")
        if self.domain is None:
            self.add_state("moments", default=torch.zeros(num_outputs, 4, dtype=f64), dist_reduce_fx="sum")
            self.add_state("vmin", default=torch.full((num_outputs,), float("inf"), dtype=f64), dist_reduce_fx="min")
            self.add_state("vmax", default=torch.full((num_outputs,), -float("inf"), dtype=f64), dist_reduce_fx="max")
        else:
            v = self.domain.numel()
            self.add_state("coincidence", default=torch.zeros(num_outputs, v, v, dtype=f64), dist_reduce_fx="sum")

    def update(self, ratings: Tensor) -> None:
        """Add a batch of items: (items, raters, num_outputs) ratings, NaN where missing."""
        r = _check_ratings(ratings, self.num_outputs)
        if self.domain is None:
            stats, vmin, vmax = _moments(r)
            self.moments += stats.to(self.moments.device)
            self.vmin = torch.minimum(self.vmin, vmin.to(self.vmin.device))
            self.vmax = torch.maximum(self.vmax, vmax.to(self.vmax.device))
        else:
            self.coincidence += _coincidences(r, self.domain).to(self.coincidence.device)
        self.n_items += r.shape[0]

    def _alpha(self, pooled: bool) -> Tensor:
        if int(self.n_items) == 0:
            raise ValueError("KrippendorffAlpha has no data: call update() with at least one batch first")
        if self.domain is None:
            stats, vmin, vmax = self.moments, self.vmin, self.vmax
            if pooled:
                stats, vmin, vmax = stats.sum(0, keepdim=True), vmin.min(0, True).values, vmax.max(0, True).values
            alpha = _alpha_from_moments(stats, vmin, vmax)
        else:
            o = self.coincidence.sum(0, keepdim=True) if pooled else self.coincidence
            alpha = _alpha_from_coincidences(o, self.domain, self.level)
        warn_undefined(alpha, "Krippendorff's alpha", _WHY)
        return alpha

    def compute(self) -> Tensor:
        """α averaged, pooled or per emotion, as chosen by ``average``."""
        if self.average == "micro":
            return self._alpha(pooled=True)[0]
        return reduce_outputs(self._alpha(pooled=False), self.average)

    def compute_per_output(self) -> Tensor:
        """α per emotion, shape (num_outputs,), synchronised across processes like ``compute()``."""
        with self.sync_context(should_sync=self.sync_on_compute):
            return self._alpha(pooled=False)
