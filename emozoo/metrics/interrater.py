"""Inter-annotator agreement of a ratings table alone (no model): Krippendorff's α and pairwise weighted κ.

This is what ``emozoo agreement`` prints. Per emotion: α over all raters (missing ratings allowed) and the mean
over rater pairs of their quadratic κ on the images both rated. Overall: the mean of the per-emotion α, the
pooled α (every (image, emotion) one unit), and the mean over rater pairs of each pair's κ pooled over all the
(image, emotion) ratings they share, as in the paper's human–human κ.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from emozoo.metrics._utils import UndefinedMetricWarning
from emozoo.metrics.kappa import bin_ratings, kappa_confusion, kappa_from_confusion
from emozoo.metrics.krippendorff import LEVELS, krippendorff_alpha
from emozoo.taxonomy import NAMES

__all__ = ["interrater_agreement"]


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def interrater_agreement(
    ratings: np.ndarray,
    raters: Sequence[str] | None = None,
    emotions: Sequence[str] = NAMES,
    level: str = "interval",
    num_classes: int | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """α and pairwise κ per emotion and overall for (images, raters, emotions) ratings with NaN = not rated.

    Args:
        ratings: the table, e.g. ``read_annotations(path).ratings``.
        raters: rater names for the per-pair κ (default ``rater-0`` ...).
        emotions: names of the last axis.
        level: Krippendorff level. ``"interval"`` works on any numbers; the others use the observed values
            as the value domain.
        num_classes: κ labels 0..C-1; default 2 for 0/1 tables, else 8 (the 0..7 scale, truncated).
        progress: show a progress bar over rater pairs (``None``: only on a terminal).

    Returns:
        A JSON-able dict: ``n_images``, ``n_raters``, ``n_ratings``, ``level``, ``kappa`` (settings),
        ``per_emotion`` {emotion: {``items`` (rated twice or more), ``alpha``, ``kappa``, ``pairs``}} for the
        emotions that have any rating, ``pairs`` {``"a|b"``: pooled κ}, and ``overall`` {``alpha_mean``,
        ``alpha_pooled``, ``kappa_mean``}. Undefined values are ``None``.

    Raises:
        ValueError: bad shape or level, no ratings, or values outside the κ scale [0, num_classes - 1].
    """
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 3 or r.shape[2] != len(emotions):
        raise ValueError(f"ratings must have shape (images, raters, {len(emotions)}), got {r.shape}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    rated = ~np.isnan(r)
    if not rated.any():
        raise ValueError("no ratings: every value is NaN")
    n_raters = r.shape[1]
    names = list(raters) if raters is not None else [f"rater-{i}" for i in range(n_raters)]
    values = np.unique(r[rated])
    if num_classes is None:
        num_classes = 2 if np.isin(values, (0.0, 1.0)).all() else 8
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    domain = None if level == "interval" else values.tolist()  # interval: exact moments, any numbers
    bin_ratings(r, num_classes, name="ratings")  # every value on the κ scale, not only those in a pair

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of all-NaN columns: reported as None
        alpha = krippendorff_alpha(r, level, value_domain=domain, average="none").numpy()
        alpha_pooled = float(krippendorff_alpha(r, level, value_domain=domain, average="micro"))
        per_pair = np.full((0, len(emotions)), np.nan)
        pooled: dict[str, float | None] = {}
        pairs = list(itertools.combinations(range(n_raters), 2))
        rows = []
        for i, j in tqdm(pairs, desc="rater pairs", unit="pair", disable=(None if progress is None else not progress)):
            if not (rated[:, i] & rated[:, j]).any():
                continue  # never rated the same (image, emotion): no κ at all
            cm = kappa_confusion(r[:, i], r[:, j], num_classes, "truncate")
            rows.append(kappa_from_confusion(cm).numpy())
            pooled[f"{names[i]}|{names[j]}"] = _num(kappa_from_confusion(cm.sum(0)))
        if rows:
            per_pair = np.stack(rows)
        kappa_e = np.nanmean(per_pair, axis=0) if rows else np.full(len(emotions), np.nan)
        alpha_mean = np.nanmean(alpha)

    items = (rated.sum(1) >= 2).sum(0)
    pairs_e = (~np.isnan(per_pair)).sum(0)
    per_emotion = {
        e: {"items": int(items[k]), "alpha": _num(alpha[k]), "kappa": _num(kappa_e[k]), "pairs": int(pairs_e[k])}
        for k, e in enumerate(emotions)
        if rated[:, :, k].any()
    }
    kappas = [v for v in pooled.values() if v is not None]
    return {
        "n_images": int(r.shape[0]),
        "n_raters": n_raters,
        "n_ratings": int(rated.sum()),
        "level": level,
        "kappa": {"num_classes": num_classes, "weights": "quadratic", "binning": "truncate"},
        "per_emotion": per_emotion,
        "pairs": pooled,
        "overall": {
            "alpha_mean": _num(alpha_mean),
            "alpha_pooled": _num(alpha_pooled),
            "kappa_mean": _num(np.mean(kappas)) if kappas else None,
        },
    }
