"""Inter-annotator agreement of a ratings table alone (no model): Krippendorff's α and pairwise weighted κ.

This is what ``emozoo agreement`` reports. The table is sparse (one entry per rating), so memory grows with the
number of ratings and of rater pairs that share an item, never with images x raters.

κ is aggregated as the authors do in ``statistics/analysis-hq.ipynb`` (LAION-AI/emonet-face at f4d4dab):

- a **κ unit** is one (rater pair, emotion): the pair's quadratic κ on the images both rated for that emotion,
  kept only when they share at least 2 images (the notebook's ``len(ratings_pair) < 2: continue``) and κ is
  defined (the notebook drops NaN);
- **overall κ** (``kappa_mean``) is the mean over all κ units: the notebook's ``np.mean(hh_kappas_all)``,
  the human–human side of its Mann–Whitney test (−0.0273 on ``binary.csv``);
- **per emotion**: the mean over the rater pairs' κ units of that emotion;
- **per rater**: for each emotion, the mean κ of that rater with every other rater; then the mean over emotions
  (the notebook's agreement table, column ``average_all_emotions``);
- ``kappa_pooled_pair_mean`` is a different aggregation the authors never use: each rater pair's κ over all the
  (image, emotion) ratings it shares, pooled across emotions, then the mean over pairs (−0.0212 on
  ``binary.csv``). It is reported for comparison under that name.

For yes/no tables the report also counts, per emotion, the units (image, emotion) rated 2 and 3 times and the
shares of their vote splits, as ``statistics/analysis-binary.ipynb`` does: unanimous (2:0 or 3:0), 2:1, 1–1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from emozoo.metrics._utils import UndefinedMetricWarning
from emozoo.metrics.kappa import bin_ratings, kappa_from_confusion
from emozoo.metrics.krippendorff import LEVELS, krippendorff_alpha_units
from emozoo.taxonomy import NAMES

__all__ = ["MAX_RATING_PAIRS", "MIN_SHARED", "interrater_agreement", "interrater_agreement_sparse", "vote_splits"]

MIN_SHARED = 2  # a (rater pair, emotion) needs this many shared images to be a κ unit (the notebook's rule)
MAX_RATING_PAIRS = 20_000_000  # within-unit rating pairs enumerated for κ; beyond this, a clear error
MAX_CLASSES = 64  # κ labels and non-interval α values: their (C, C) matrices are kept per pair / per emotion


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _units(image: np.ndarray, emotion: np.ndarray, n_emotions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit index (one per (image, emotion) that has a rating) of each rating, and each unit's emotion."""
    key = image * n_emotions + emotion
    keys, unit = np.unique(key, return_inverse=True)
    return unit.ravel(), keys % n_emotions


def _rating_pairs(unit: np.ndarray, max_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, b), a < b, of the ratings that share a unit; ratings must be sorted by unit."""
    m = np.bincount(unit)
    start = np.concatenate([[0], np.cumsum(m)[:-1]])
    total = int((m * (m - 1) // 2).sum())
    if total > max_pairs:
        raise ValueError(
            f"pairwise κ needs {total:,} pairs of ratings on shared images (the most-rated image has {m.max():,} "
            f"ratings of one emotion); the limit is max_rating_pairs={max_pairs:,}"
        )
    a_parts, b_parts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for size in np.unique(m[m >= 2]):
        base = start[m == size][:, None]
        ia, ib = np.triu_indices(int(size), 1)
        a_parts.append((base + ia).ravel())
        b_parts.append((base + ib).ravel())
    return np.concatenate(a_parts), np.concatenate(b_parts)


def _confusions(keys: np.ndarray, la: np.ndarray, lb: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` and their (C, C) confusion counts of labels ``la`` x ``lb``."""
    combined, counts = np.unique(keys * (c * c) + la * c + lb, return_counts=True)
    uniq, inv = np.unique(combined // (c * c), return_inverse=True)
    conf = np.zeros((uniq.size, c * c), dtype=np.int64)
    conf[inv.ravel(), combined % (c * c)] = counts
    return uniq, conf.reshape(-1, c, c)


def vote_splits(unit: np.ndarray, value: np.ndarray, unit_emotion: np.ndarray, n_emotions: int) -> dict[str, Any]:
    """Per emotion: units rated 2 and 3 times and the shares of their votes (``analysis-binary.ipynb``).

    ``unanimous`` is the notebook's "agreement" (2:0 or 3:0, either way; it labels it "3:0 vote"), split into
    ``unanimous_yes`` and ``unanimous_no``; ``split_2_1`` its "partial"; ``split_1_1`` its "disagreement".
    Shares are of the units rated more than once (units rated 4 times or more count in ``n`` only).
    """
    m = np.bincount(unit)
    yes = np.bincount(unit, value)
    multi = m >= 2
    kinds = {
        "unanimous_yes": multi & (yes == m),
        "unanimous_no": multi & (yes == 0),
        "split_2_1": (m == 3) & (yes > 0) & (yes < 3),
        "split_1_1": (m == 2) & (yes == 1),
        "rated_2": m == 2,
        "rated_3": m == 3,
    }
    count = {k: np.bincount(unit_emotion[v], minlength=n_emotions) for k, v in kinds.items()}
    n = np.bincount(unit_emotion[multi], minlength=n_emotions)
    out = {}
    for e in np.flatnonzero(n):
        share = {k: float(count[k][e] / n[e]) for k in ("unanimous_yes", "unanimous_no", "split_2_1", "split_1_1")}
        share["unanimous"] = share["unanimous_yes"] + share["unanimous_no"]
        share.update(rated_2=float(count["rated_2"][e] / n[e]), rated_3=float(count["rated_3"][e] / n[e]))
        out[int(e)] = {"n": int(n[e]), **share}
    return {"n_units": int(multi.sum()), "per_emotion": out}


def interrater_agreement_sparse(
    image: Any,
    rater: Any,
    emotion: Any,
    value: Any,
    raters: Sequence[str],
    emotions: Sequence[str] = NAMES,
    level: str = "interval",
    num_classes: int | None = None,
    max_rating_pairs: int = MAX_RATING_PAIRS,
) -> dict[str, Any]:
    """α and κ (see the module docstring) of sparse ratings: rating k is rater ``rater[k]``'s ``value[k]`` for
    emotion ``emotion[k]`` of image ``image[k]``; at most one rating per (image, rater, emotion).

    Args:
        image, rater, emotion: (K,) integer indices; ``rater`` indexes ``raters``, ``emotion`` indexes ``emotions``.
        value: (K,) finite ratings (a missing rating is absent, not NaN).
        raters: the rater names.
        emotions: the emotion names.
        level: Krippendorff level. ``"interval"`` works on any numbers; the others use the observed values
            as the value domain.
        num_classes: κ labels 0..C-1; default 2 for 0/1 tables, else 8 (the 0..7 scale, truncated).
        max_rating_pairs: refuse (ValueError) tables whose shared images would need more rating pairs than this.

    Returns:
        A JSON-able dict: ``n_images``, ``n_raters``, ``n_ratings``, ``level``, ``kappa`` (settings and the
        aggregation), ``per_emotion`` {emotion: {``items`` (units rated twice or more), ``alpha``, ``kappa``,
        ``pairs`` (κ units)}} for the emotions that have any rating, ``per_rater`` {rater: {``kappa``, ``units``}},
        ``pairs`` {``"a|b"``: κ pooled over emotions}, ``votes`` (yes/no tables only, see :func:`vote_splits`) and
        ``overall`` {``alpha_mean``, ``alpha_pooled``, ``kappa_mean``, ``kappa_units``,
        ``kappa_pooled_pair_mean``}. Undefined values are ``None``.

    Raises:
        ValueError: bad level or shapes, no ratings, values outside the κ scale, or too many rating pairs.
    """
    image, rater, emotion = (np.asarray(x, dtype=np.int64).ravel() for x in (image, rater, emotion))
    value = np.asarray(value, dtype=np.float64).ravel()
    n_e, n_r = len(emotions), len(raters)
    if not (image.size == rater.size == emotion.size == value.size):
        raise ValueError("image, rater, emotion and value must have the same length")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if value.size == 0:
        raise ValueError("no ratings")
    if not np.isfinite(value).all():
        raise ValueError("ratings must be finite (leave a missing rating out)")
    if emotion.min() < 0 or emotion.max() >= n_e or rater.min() < 0 or rater.max() >= n_r:
        raise ValueError("emotion or rater index out of range")
    values = np.unique(value)
    if num_classes is None:
        num_classes = 2 if np.isin(values, (0.0, 1.0)).all() else 8
    if not 2 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be at least 2 and at most {MAX_CLASSES}, got {num_classes}")
    label = bin_ratings(value, num_classes, name="ratings").numpy()

    unit, unit_emotion = _units(image, emotion, n_e)
    order = np.lexsort((rater, unit))  # by unit, then rater: within a unit a < b means rater[a] < rater[b]
    unit, rater, label, value = unit[order], rater[order], label[order], value[order]
    domain = None if level == "interval" else values.tolist()  # interval: exact moments, any numbers
    if domain is not None and len(domain) > MAX_CLASSES:
        raise ValueError(
            f"level={level!r} needs a value-by-value matrix, and the table has {len(domain)} distinct values "
            f"(at most {MAX_CLASSES}); use level='interval'"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        alpha = krippendorff_alpha_units(unit, value, unit_emotion, n_e, level, value_domain=domain, average="none")
        alpha_pooled = float(krippendorff_alpha_units(unit, value, unit_emotion, n_e, level, domain, average="micro"))
        a, b = _rating_pairs(unit, max_rating_pairs)
        pair_key = rater[a] * n_r + rater[b]
        keys, conf = _confusions(unit_emotion[unit[a]] * (n_r * n_r) + pair_key, label[a], label[b], num_classes)
        pairs, pooled_conf = _confusions(pair_key, label[a], label[b], num_classes)
        shared = conf.sum((1, 2)) >= MIN_SHARED
        keys, kappa = keys[shared], kappa_from_confusion(torch.from_numpy(conf[shared])).numpy()
        pooled = kappa_from_confusion(torch.from_numpy(pooled_conf)).numpy()
    ok = ~np.isnan(kappa)
    keys, kappa = keys[ok], kappa[ok]
    k_e, k_a, k_b = keys // (n_r * n_r), keys // n_r % n_r, keys % n_r
    k_sum, k_n = np.bincount(k_e, kappa, minlength=n_e), np.bincount(k_e, minlength=n_e)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa_e = k_sum / k_n  # NaN where an emotion has no κ unit
        # per rater: mean κ with the other raters per emotion, then the mean over emotions
        both = np.concatenate([k_a, k_b]) * n_e + np.concatenate([k_e, k_e])
        r_sum = np.bincount(both, np.concatenate([kappa, kappa]), minlength=n_r * n_e).reshape(n_r, n_e)
        r_n = np.bincount(both, minlength=n_r * n_e).reshape(n_r, n_e)
        r_mean = r_sum / r_n
    per_rater = {}
    for r in np.flatnonzero(r_n.sum(1)):
        per_rater[raters[r]] = {"kappa": _num(np.nanmean(r_mean[r])), "units": int(r_n[r].sum())}

    items = np.bincount(unit_emotion[np.bincount(unit) >= 2], minlength=n_e)
    rated = np.bincount(emotion, minlength=n_e)
    per_emotion = {
        emotions[e]: {"items": int(items[e]), "alpha": _num(alpha[e]), "kappa": _num(kappa_e[e]), "pairs": int(k_n[e])}
        for e in np.flatnonzero(rated)
    }
    pooled_named = {f"{raters[p // n_r]}|{raters[p % n_r]}": _num(k) for p, k in zip(pairs, pooled)}
    pooled_ok = pooled[~np.isnan(pooled)]
    result: dict[str, Any] = {
        "n_images": int(np.unique(image).size),
        "n_raters": n_r,
        "n_ratings": int(value.size),
        "level": level,
        "kappa": {
            "num_classes": num_classes,
            "weights": "quadratic",
            "binning": "truncate",
            "unit": f"(rater pair, emotion) with at least {MIN_SHARED} shared images",
            "overall": "mean over κ units (analysis-hq.ipynb)",
        },
        "per_emotion": per_emotion,
        "per_rater": per_rater,
        "pairs": pooled_named,
        "overall": {
            "alpha_mean": _num(np.nanmean(alpha)) if not np.isnan(alpha).all() else None,
            "alpha_pooled": _num(alpha_pooled),
            "kappa_mean": _num(kappa.mean()) if kappa.size else None,
            "kappa_units": int(kappa.size),
            "kappa_pooled_pair_mean": _num(pooled_ok.mean()) if pooled_ok.size else None,
        },
    }
    if num_classes == 2 and np.isin(values, (0.0, 1.0)).all():
        votes = vote_splits(unit, value, unit_emotion, n_e)
        result["votes"] = {
            "n_units": votes["n_units"],
            "per_emotion": {emotions[e]: v for e, v in votes["per_emotion"].items()},
        }
    return result


def interrater_agreement(
    ratings: np.ndarray,
    raters: Sequence[str] | None = None,
    emotions: Sequence[str] = NAMES,
    level: str = "interval",
    num_classes: int | None = None,
) -> dict[str, Any]:
    """:func:`interrater_agreement_sparse` of a dense (images, raters, emotions) array with NaN = not rated."""
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 3 or r.shape[2] != len(emotions):
        raise ValueError(f"ratings must have shape (images, raters, {len(emotions)}), got {r.shape}")
    image, rater, emotion = np.nonzero(~np.isnan(r))
    if image.size == 0:
        raise ValueError("no ratings: every value is NaN")
    names = list(raters) if raters is not None else [f"rater-{i}" for i in range(r.shape[1])]
    return interrater_agreement_sparse(
        image, rater, emotion, r[image, rater, emotion], names, emotions, level, num_classes
    )
