"""The paper's agreement protocol (docs/architecture.md §1) for one model against human raters: ``agreement_report``.

Everything the report states, and the choices behind it:

- **Spearman ρ** per emotion between the model and the per-image *median* of the raters who rated it, then the
  mean over emotions. A scorer (model, baseline or rater) that gives the same score to every image of an
  emotion whose median rating does vary has ρ = 0 there, not NaN: it ranks nothing, and leaving it out of the
  mean would reward a model for switching an emotion off. An emotion where ρ is still undefined (fewer than 2
  rated images, or no variation in the median) is NaN, left out of the mean and listed under
  ``excluded_emotions``. The 95% CI is the percentile interval of the mean
  over ``n_bootstrap`` resamples of the images (the same resamples for the model and the random baseline).
- **Random baseline**: uniform random intensities in [0, 7], seeded, scored exactly like the model.
- **Rater leave-one-out ρ**: each rater against the median of the *other* raters on the images they rated,
  using every image with at least one other rating; averaged per emotion over raters, then over emotions.
- **Weighted κ**, as in the authors' ``statistics/analysis-hq.ipynb`` (LAION-AI/emonet-face at f4d4dab):
  quadratic weights over labels 0..7, continuous values truncated (``astype(int)``); model intensities are
  clipped to [0, 7] first. A **κ unit** is one (rater pair, emotion), or (model, rater, emotion), with at least
  2 shared images. A group's ``mean`` is the mean over its κ units (the notebook's ``np.mean(hh_kappas_all)``);
  ``per_emotion`` the mean over pairs; ``mean_pooled_pairs`` (not the authors') the mean over pairs of each
  pair's κ pooled over all the (image, emotion) ratings it shares.
- **Mann–Whitney U**, two-sided, on the authors' inputs: the model–human κ units against the human–human κ
  units. The model "could be an annotator" when p > 0.05; otherwise it agrees with the raters better or worse
  than they agree with each other, by the sign of U / (n_model n_human) - 1/2. ``verdict`` says it in words.
- **Krippendorff's α**, interval level, humans only, per emotion (moments state: exact for continuous ratings).

Random draws: ``SeedSequence(seed).spawn(2)`` gives the bootstrap generator and the baseline generator.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

from emozoo.metrics._utils import UndefinedMetricWarning, as_float64
from emozoo.metrics.bootstrap import bootstrap_counts, bootstrap_spearman, percentile_ci
from emozoo.metrics.interrater import MIN_SHARED
from emozoo.metrics.kappa import bin_ratings, kappa_confusion, kappa_from_confusion
from emozoo.metrics.krippendorff import krippendorff_alpha
from emozoo.metrics.spearman import emotion_spearman
from emozoo.metrics.verdict import verdict_sentence
from emozoo.taxonomy import NAMES

__all__ = ["KAPPA_CLASSES", "SCALE_MAX", "agreement_report", "mann_whitney", "unit_values", "verdict_sentence"]

SCALE_MAX = 7.0  # ratings and intensities live on 0..7
KAPPA_CLASSES = 8
CI_LEVEL = 0.95
P_THRESHOLD = 0.05
MWU_INPUTS = "per-(rater pair, emotion) quadratic κ: model–human units vs human–human units (analysis-hq.ipynb)"


def _num(x: float) -> float | None:
    """A JSON-safe float: NaN becomes None."""
    x = float(x)
    return None if math.isnan(x) else x


def _named(values: np.ndarray, names: Sequence[str]) -> dict[str, float | None]:
    return {name: _num(v) for name, v in zip(names, values)}


def _nanmean(values: Any, axis: int | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected and reported as None
        return np.nanmean(np.asarray(values, dtype=np.float64), axis=axis)


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def _check_inputs(predictions: Any, ratings: Any, emotions: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    p = as_float64(predictions, "predictions")
    r = as_float64(ratings, "ratings")
    n_e = len(emotions)
    if p.ndim != 2 or p.shape[1] != n_e:
        raise ValueError(f"predictions must have shape (N, {n_e}), got {p.shape}")
    if r.ndim != 3 or r.shape[0] != p.shape[0] or r.shape[2] != n_e:
        raise ValueError(f"ratings must have shape (N={p.shape[0]}, raters, {n_e}), got {r.shape}")
    if p.shape[0] == 0 or r.shape[1] == 0:
        raise ValueError(f"nothing to score: predictions {p.shape}, ratings {r.shape}")
    if not np.isfinite(p).all():
        raise ValueError("predictions must be finite (no NaN or inf)")
    if np.isnan(r).all():
        raise ValueError("ratings are all NaN: no image was rated")
    bin_ratings(r, KAPPA_CLASSES, name="ratings")  # raises outside [0, 7]
    return p, r


def _spearman_block(rho: np.ndarray, boot: np.ndarray, emotions: Sequence[str]) -> dict[str, Any]:
    return {
        "mean_spearman": _num(_nanmean(rho)),
        "per_emotion_spearman": _named(rho, emotions),
        "spearman_ci": percentile_ci(boot, CI_LEVEL),
        "excluded_emotions": [e for e, v in zip(emotions, rho) if math.isnan(v)],
    }


def _rho(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rho = emotion_spearman(a, b, average="none").numpy()
    for e in np.flatnonzero(np.isnan(rho)):  # a constant scorer against a varying median ranks nothing: ρ = 0
        ok = ~np.isnan(a[:, e]) & ~np.isnan(b[:, e])
        if ok.sum() >= 2 and np.ptp(a[ok, e]) == 0 and np.ptp(b[ok, e]) > 0:
            rho[e] = 0.0
    return rho


def _leave_one_out(r: np.ndarray) -> np.ndarray:
    """(R, E) ρ of each rater against the median of the other raters on the same images."""
    n_raters = r.shape[1]
    out = np.full((n_raters, r.shape[2]), np.nan)
    for k in range(n_raters):
        if n_raters > 1:
            others = _nanmedian(np.delete(r, k, axis=1), axis=1)
            out[k] = _rho(r[:, k], others)
    return out


def _kappas(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-emotion κ units (E,) and the κ pooled over all shared (image, emotion) ratings of two raters.

    An emotion where the two share fewer than ``MIN_SHARED`` images is no unit (NaN), as in the notebook.
    """
    cm = kappa_confusion(a, b, KAPPA_CLASSES, "truncate")
    per_emotion = kappa_from_confusion(cm).numpy()
    per_emotion[cm.sum((1, 2)).numpy() < MIN_SHARED] = np.nan
    return per_emotion, float(kappa_from_confusion(cm.sum(0)))


def _kappa_group(pairs: dict[str, tuple[np.ndarray, np.ndarray]], emotions: Sequence[str]) -> dict[str, Any]:
    per_emotion, pooled = [], {}
    for name, (a, b) in pairs.items():
        k_e, k_all = _kappas(a, b)
        per_emotion.append(k_e)
        pooled[name] = k_all
    per_e = _nanmean(per_emotion, axis=0) if per_emotion else np.full(len(emotions), np.nan)
    units = np.concatenate(per_emotion) if per_emotion else np.zeros(0)
    return {
        "mean": _num(_nanmean(units)) if units.size else None,
        "mean_pooled_pairs": _num(_nanmean(list(pooled.values()))) if pooled else None,
        "per_emotion": _named(per_e, emotions),
        "units": {name: _named(k, emotions) for name, k in zip(pairs, per_emotion)},
        "pooled_per_pair": {k: _num(v) for k, v in pooled.items()},
    }


def annotator_table(human: dict[str, Any], model: dict[str, Any], names: Sequence[str]) -> dict[str, float | None]:
    """The notebook's agreement table, column ``average_all_emotions``: per annotator, the mean over emotions of
    its mean κ with the human raters (for a rater: the other raters). The model's entry is ``"model"``."""
    out: dict[str, float | None] = {}
    pairs = list(itertools.combinations(names, 2))  # the order _kappa_group's units were built in
    units = list(human["units"].values())
    emotions = list(units[0]) if units else []
    for rater in names:
        mine = [u for (a, b), u in zip(pairs, units) if rater in (a, b)]
        means = [np.mean(ks) for e in emotions if (ks := [u[e] for u in mine if u[e] is not None])]
        out[rater] = float(np.mean(means)) if means else None
    out["model"] = _num(_nanmean(list(model["per_emotion"].values()))) if model["units"] else None
    return out


def unit_values(group: dict[str, Any]) -> list[float]:
    """The defined κ units of a group (``units`` of :func:`agreement_report`'s κ groups), pair by pair."""
    return [v for per_e in group["units"].values() for v in per_e.values() if v is not None]


def mann_whitney(model_units: Sequence[float], human_units: Sequence[float]) -> dict[str, Any]:
    """The authors' test: two-sided Mann–Whitney U of model–human against human–human κ units.

    ``direction`` says which way the groups differ: ``"better"`` when the model's κ units tend to be higher than
    the humans' (U / (n_model n_human) > 0.5) and p <= 0.05, ``"worse"`` when lower, ``"indistinguishable"`` when
    p > 0.05 (the notebook's "could be annotator"); ``verdict`` says it in a sentence.
    """
    x, y = np.asarray(model_units, dtype=float), np.asarray(human_units, dtype=float)
    res: dict[str, Any] = {"inputs": MWU_INPUTS, "statistic": None, "p_value": None, "could_be_annotator": None}
    res.update(n_model=int(x.size), n_human=int(y.size), alternative="two-sided", threshold=P_THRESHOLD)
    res.update(mean_difference=None, prob_model_higher=None, direction=None)
    if x.size and y.size:
        test = mannwhitneyu(x, y, alternative="two-sided")
        p, u = _num(test.pvalue), _num(test.statistic)
        prob = None if u is None else u / (x.size * y.size)
        direction = None
        if p is not None:
            direction = "indistinguishable" if p > P_THRESHOLD else "better" if prob > 0.5 else "worse"
        res.update(statistic=u, p_value=p, could_be_annotator=None if p is None else p > P_THRESHOLD)
        res.update(mean_difference=_num(x.mean() - y.mean()), prob_model_higher=prob, direction=direction)
    res["verdict"] = verdict_sentence(res)
    return res


def agreement_report(
    predictions: Any,
    ratings: Any,
    rater_names: Sequence[str] | None = None,
    emotions: Sequence[str] = NAMES,
    n_bootstrap: int = 1000,
    seed: int = 0,
    out_dir: str | Path | None = None,
    model_name: str = "model",
) -> dict[str, Any]:
    """Score a model against human raters the way the EmoNet-Face paper does (see the module docstring).

    Args:
        predictions: (N, E) model intensities on 0..7 (tensor or array), finite.
        ratings: (N, R, E) human ratings on 0..7 with NaN where rater r did not rate image n.
        rater_names: R names (default ``rater-0`` ...).
        emotions: the E emotion names, in the order of the last axis.
        n_bootstrap: bootstrap resamples of the images for the ρ confidence intervals.
        seed: seeds the bootstrap and the random baseline.
        out_dir: if given, write ``report.json``, ``report.md``, ``spearman_per_emotion.png`` and
            ``kappa_by_group.png`` there.
        model_name: the model's name in the report.

    Returns:
        A JSON-able dict; NaN (undefined) values are ``None``. Per-emotion entries are ``{emotion: value}``.

        - ``meta``: ``model_name``, ``n_images``, ``n_raters``, ``rater_names``, ``emotions``,
          ``rated_images_per_emotion``, ``n_bootstrap``, ``seed``, ``ci_level``, ``random_baseline``,
          ``loo_min_other_raters``, ``kappa`` (its settings), ``alpha_level``.
        - ``model`` and ``random``: ``mean_spearman``, ``per_emotion_spearman``, ``spearman_ci`` [lo, hi],
          ``excluded_emotions``.
        - ``raters``: ``loo_mean_spearman``, ``loo_per_emotion``, ``loo_per_rater``, ``excluded_emotions``.
        - ``kappa``: ``human_human``, ``model_human`` and ``random_human``, each with ``mean`` (over κ units),
          ``mean_pooled_pairs``, ``per_emotion`` (mean over pairs), ``units`` ({pair ``"a|b"`` or rater:
          {emotion: κ}}) and ``pooled_per_pair``; ``annotator_table`` (see :func:`annotator_table`); and
          ``mann_whitney`` (see :func:`mann_whitney`) with
          ``inputs``, ``statistic``, ``p_value``, ``could_be_annotator``, ``direction``, ``verdict``,
          ``mean_difference``, ``prob_model_higher``, ``n_model``, ``n_human``, ``alternative``, ``threshold``.
        - ``alpha``: ``level``, ``mean``, ``per_emotion``, ``excluded_emotions``.
        - ``files`` (only with ``out_dir``): ``{"json", "markdown", "spearman_png", "kappa_png"}`` paths.

    Raises:
        ValueError: shapes do not match, input is empty, predictions are not finite or ratings leave [0, 7].
    """
    emotions = list(emotions)
    p, r = _check_inputs(predictions, ratings, emotions)
    n, n_raters, _ = r.shape
    names = list(rater_names) if rater_names is not None else [f"rater-{i}" for i in range(n_raters)]
    if len(names) != n_raters:
        raise ValueError(f"rater_names has {len(names)} names for {n_raters} raters")
    if not isinstance(n_bootstrap, int) or n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be a positive int, got {n_bootstrap!r}")
    boot_ss, random_ss = np.random.SeedSequence(seed).spawn(2)
    random_pred = np.random.default_rng(random_ss).uniform(0.0, SCALE_MAX, size=p.shape)
    clipped = np.clip(p, 0.0, SCALE_MAX)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # undefined emotions are listed instead
        median = _nanmedian(r, axis=1)
        counts = bootstrap_counts(n, n_bootstrap, np.random.default_rng(boot_ss))
        boot_model, boot_random = bootstrap_spearman([p, random_pred], median, counts)
        model = _spearman_block(_rho(p, median), boot_model, emotions)
        random = _spearman_block(_rho(random_pred, median), boot_random, emotions)

        loo = _leave_one_out(r)
        loo_e = _nanmean(loo, axis=0)
        raters = {
            "loo_mean_spearman": _num(_nanmean(loo_e)),
            "loo_per_emotion": _named(loo_e, emotions),
            "loo_per_rater": _named(_nanmean(loo, axis=1), names),
            "excluded_emotions": [e for e, v in zip(emotions, loo_e) if math.isnan(v)],
        }

        pairs = {f"{names[i]}|{names[j]}": (r[:, i], r[:, j]) for i, j in itertools.combinations(range(n_raters), 2)}
        human = _kappa_group(pairs, emotions)
        model_k = _kappa_group({nm: (clipped, r[:, i]) for i, nm in enumerate(names)}, emotions)
        random_k = _kappa_group({nm: (random_pred, r[:, i]) for i, nm in enumerate(names)}, emotions)

        alpha = krippendorff_alpha(r, level="interval", average="none").numpy()

    report: dict[str, Any] = {
        "meta": {
            "model_name": model_name,
            "n_images": n,
            "n_raters": n_raters,
            "rater_names": names,
            "emotions": emotions,
            "rated_images_per_emotion": dict(zip(emotions, (~np.isnan(median)).sum(0).tolist())),
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "ci_level": CI_LEVEL,
            "random_baseline": "uniform [0, 7]",
            "loo_min_other_raters": 1,
            "kappa": {"num_classes": KAPPA_CLASSES, "weights": "quadratic", "binning": "truncate"},
            "alpha_level": "interval",
        },
        "model": model,
        "random": random,
        "raters": raters,
        "kappa": {
            "human_human": human,
            "model_human": model_k,
            "random_human": random_k,
            "mann_whitney": mann_whitney(unit_values(model_k), unit_values(human)),
            "annotator_table": annotator_table(human, model_k, names),
        },
        "alpha": {
            "level": "interval",
            "mean": _num(_nanmean(alpha)),
            "per_emotion": _named(alpha, emotions),
            "excluded_emotions": [e for e, v in zip(emotions, alpha) if math.isnan(v)],
        },
    }
    if out_dir is not None:
        from emozoo.metrics.report import write_report  # matplotlib only when files are asked for

        report["files"] = write_report(report, Path(out_dir))
    return report
