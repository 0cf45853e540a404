"""Bootstrap of per-emotion Spearman ρ over images, without re-sorting per resample.

A resample that draws image i ``c_i`` times is the original data with integer weights ``c``. Its average ranks
follow from the original sort: a tie group's rank is (weight below it) + (its weight + 1) / 2. So each column
is sorted once, and each resample costs a cumulative sum and a weighted Pearson correlation, giving exactly
``scipy.stats.spearmanr`` on the resampled rows.

Resamples are drawn as ``rng.integers(0, N, N)`` once per resample, in order, so a plain loop with the same
generator reproduces them (the tests do).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from emozoo.metrics.ranks import TieGroups, tie_groups

__all__ = ["bootstrap_counts", "bootstrap_spearman", "percentile_ci"]

# resamples per chunk are bounded so that one (chunk, N) float64 array stays near 32 MB
_CHUNK_ELEMENTS = 1 << 22


def bootstrap_counts(n: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """(n_bootstrap, n) multiplicities: row b counts how often each item is drawn in resample b."""
    counts = np.empty((n_bootstrap, n), dtype=np.int32)
    for b in range(n_bootstrap):
        counts[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return counts


def _weighted_centred_ranks(w: np.ndarray, g: TieGroups) -> np.ndarray:
    """Ranks minus their weighted mean, for weights ``w`` (n, B) on a column with tie structure ``g``.

    Items run along axis 0 so that the cumulative sum adds whole contiguous rows (vectorised over resamples).
    """
    ws = w[g.order]
    cw = np.cumsum(ws, axis=0)
    before = cw[g.first] - ws[g.first]  # total weight of the groups below
    ranks_sorted = (before + cw[g.last] + 1) / 2
    ranks = np.empty_like(ranks_sorted)
    ranks[g.order] = ranks_sorted
    # weighted average ranks of W items always have mean (W + 1) / 2
    return ranks - (cw[-1:] + 1) / 2


def bootstrap_spearman(preds: Sequence[np.ndarray], target: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Per-resample, per-emotion ρ of each (N, E) array in ``preds`` against ``target`` (N, E).

    Args:
        preds: (N, E) arrays without NaN (e.g. the model and the random baseline); the target ranks are shared.
        target: (N, E) with NaN where an image has no rating for an emotion (skipped for that emotion).
        counts: (B, N) resample multiplicities from :func:`bootstrap_counts`.

    Returns:
        One (B, E) array per entry of ``preds``; 0 where a prediction is constant on a resample whose target
        varies (it ranks nothing), NaN where the resample has < 2 items or the target does not vary.
    """
    n_boot, n = counts.shape
    n_emotions = target.shape[1]
    out = [np.full((n_boot, n_emotions), np.nan) for _ in preds]
    chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))
    counts_t = np.ascontiguousarray(counts.T)  # (N, B): items along axis 0, see _weighted_centred_ranks
    for e in range(n_emotions):
        valid = ~np.isnan(target[:, e])
        if valid.sum() < 2:
            continue
        gt = tie_groups(target[valid, e])
        gps = [tie_groups(p[valid, e]) for p in preds]
        for s in range(0, n_boot, chunk):
            w = counts_t[valid, s : s + chunk].astype(np.float64)
            dt = _weighted_centred_ranks(w, gt)
            wdt = w * dt
            vt = np.einsum("nb,nb->b", wdt, dt)
            for k, gp in enumerate(gps):
                dp = _weighted_centred_ranks(w, gp)
                cov = np.einsum("nb,nb->b", wdt, dp)
                var = vt * np.einsum("nb,nb->b", w * dp, dp)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rho = np.where(var > 0, cov / np.sqrt(var), np.where(vt > 0, 0.0, np.nan))
                out[k][s : s + chunk, e] = np.clip(rho, -1.0, 1.0)
    return out


def percentile_ci(per_resample: np.ndarray, level: float = 0.95) -> list[float | None]:
    """Percentile interval of the per-resample means over emotions (NaN emotions left out of each mean)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample where every emotion is NaN
        means = np.nanmean(per_resample, axis=1)
    means = means[~np.isnan(means)]
    if means.size == 0:
        return [None, None]
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]
