"""Average (fractional) ranks in float64, the building block of every Spearman ρ in emozoo.

Ties share the mean of the ranks they span, as ``scipy.stats.rankdata(method="average")``. Ranks are float64
sums of integers and halves, so they are exact for any N below 2**52; the int32/float32 rank arithmetic of
``torchmetrics.SpearmanCorrCoef`` is what makes it drift on large, heavily tied data.

Integer-valued vectors with a small range (0..7 ratings, weak labels) are ranked by counting, in O(N); anything
else by one argsort. Both run in NumPy on the CPU: ranking needs the whole column once per ``compute()``, and
NumPy's vectorised argsort beats ``torch.sort`` there.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TieGroups", "average_ranks_1d", "tie_groups"]

# widest integer range ranked by counting: the bincount table stays small next to the data
_MAX_COUNTING_RANGE = 1 << 16


def _counting_ranks(a: np.ndarray) -> np.ndarray | None:
    lo, hi = a.min(), a.max()
    if not np.isfinite(hi - lo) or hi - lo >= _MAX_COUNTING_RANGE:
        return None
    codes = (a - lo).astype(np.int64)
    if not np.array_equal(codes + lo, a):  # not integer-valued
        return None
    counts = np.bincount(codes).astype(np.float64)
    # rank of a tie group = items below it + (group size + 1) / 2, 1-based
    table = counts.cumsum() - (counts - 1) / 2
    return table[codes]


class TieGroups:
    """Sort order and tie structure of a vector, reusable for many weightings (the bootstrap).

    Attributes:
        order: argsort of the vector.
        first: for each sorted position, the sorted index where its tie group starts.
        last: for each sorted position, the sorted index where its tie group ends (inclusive).
    """

    def __init__(self, order: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        self.order, self.first, self.last = order, first, last


def tie_groups(a: np.ndarray) -> TieGroups:
    """Sort ``a`` (1-D, no NaN) once and record where each tie group starts and ends."""
    order = np.argsort(a)  # any order within ties will do: a tie group shares one rank
    v = a[order]
    n = v.shape[0]
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(v[1:], v[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n) - 1
    gid = np.cumsum(new) - 1
    return TieGroups(order, starts[gid], ends[gid])


def average_ranks_1d(a: np.ndarray) -> np.ndarray:
    """1-based average ranks of a 1-D float array without NaN.

    Example:
        >>> average_ranks_1d(np.array([0.0, 3.0, 0.0, 1.5]))
        array([1.5, 4. , 1.5, 3. ])
    """
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return a.copy()
    ranks = _counting_ranks(a)
    if ranks is not None:
        return ranks
    g = tie_groups(a)
    out = np.empty(a.shape[0], dtype=np.float64)
    out[g.order] = (g.first + g.last) / 2 + 1
    return out
