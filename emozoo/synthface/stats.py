"""Label statistics for SynthFace manifests: per-emotion rates, rater agreement, demographic balance.

The agreement numbers follow the paper's protocol (docs/architecture.md; the authors' ``analysis-hq.ipynb``):
quadratic-weighted Cohen's κ on ratings truncated to integers, and leave-one-out Spearman ρ of each rater against
the median of the others. Both are computed with ``emozoo.metrics`` (``kappa_confusion`` /
``kappa_from_confusion`` and ``emotion_spearman``); the tests check them against scikit-learn and SciPy.
"""

from __future__ import annotations

import warnings
from collections import Counter
from itertools import combinations

import numpy as np

from emozoo.metrics._utils import UndefinedMetricWarning
from emozoo.metrics.kappa import kappa_confusion, kappa_from_confusion, weighted_kappa
from emozoo.metrics.spearman import emotion_spearman
from emozoo.taxonomy import NAMES, NUM_EMOTIONS

__all__ = ["LabelStats", "loo_spearman", "pairwise_kappa", "quadratic_kappa"]

_LEVELS = 8  # integer labels 0..7


def quadratic_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights of two integer label vectors in 0..7 (NaN when undefined)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return float(weighted_kappa(np.asarray(a, float), np.asarray(b, float), _LEVELS, average="micro"))


def _pairs(ratings: list[dict[str, list[float]]]):
    """For each rater pair with common images: their (n, 40) ratings on those images."""
    raters = sorted({r for item in ratings for r in item})
    for r1, r2 in combinations(raters, 2):
        both = [(item[r1], item[r2]) for item in ratings if item.get(r1) and item.get(r2)]
        if len(both) >= 2:
            yield np.array([x for x, _ in both], float), np.array([y for _, y in both], float)


def pairwise_kappa(ratings: list[dict[str, list[float]]]) -> dict[str, float]:
    """Quadratic κ over rater pairs: ``mean`` over the (pair, emotion) κ units (the authors' aggregation) and
    ``pooled``, the mean over pairs of each pair's κ pooled over all emotions."""
    per_emotion, pooled = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for x, y in _pairs(ratings):
            cm = kappa_confusion(x, y, _LEVELS, "truncate")
            per_emotion.append(kappa_from_confusion(cm).numpy())
            pooled.append(float(kappa_from_confusion(cm.sum(0))))
    if not pooled:
        return {"mean": float("nan"), "pooled": float("nan"), "pairs": 0}
    return {"mean": float(np.nanmean(per_emotion)), "pooled": float(np.nanmean(pooled)), "pairs": len(pooled)}


def _rho(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-emotion ρ of two (n, 40) arrays; NaN (no warning) where either column is constant."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return emotion_spearman(a, b, average="none").numpy()


def loo_spearman(ratings: list[dict[str, list[float]]], truth: np.ndarray | None = None) -> dict[str, float]:
    """Each rater's Spearman rho against the median of the other raters on the images they share.

    Only images with at least 3 raters count, and only raters with at least 10 of them; an emotion where the
    rater or the others' median does not vary is left out. With ``truth`` ((n, 40) latents), also the rho of the
    truth against the same medians: what a model that recovered the latent exactly would score.
    """
    raters = sorted({r for item in ratings for r in item})
    human, oracle = [], []
    for r in raters:
        rows = [i for i, item in enumerate(ratings) if r in item and len(item) >= 3]
        if len(rows) < 10:
            continue
        own = np.array([ratings[i][r] for i in rows], float)
        others = np.array([np.median([v for k, v in ratings[i].items() if k != r], axis=0) for i in rows])
        rho = _rho(own, others)
        human += rho[~np.isnan(rho)].tolist()
        if truth is not None:
            t_rho = _rho(truth[rows], others)
            oracle += t_rho[~np.isnan(rho) & ~np.isnan(t_rho)].tolist()
    out = {"rater": float(np.mean(human)) if human else float("nan")}
    if truth is not None:
        out["truth"] = float(np.mean(oracle)) if oracle else float("nan")
    return out


class LabelStats:
    """Accumulates the label statistics of one SynthFace subset, one sample at a time."""

    def __init__(self) -> None:
        self.count = 0
        self.demographics: dict[str, Counter] = {"gender": Counter(), "ethnicity": Counter(), "age": Counter()}
        self.dominant = np.zeros(NUM_EMOTIONS, dtype=int)
        self.ratings: list[dict[str, list[float]]] = []
        self.truth: list[list[float]] = []
        self.weak: list[list[int]] = []
        self.extra: list[list[float]] = []
        self.binary: dict[str, list[int]] = {name: [0, 0] for name in NAMES}  # queries, yes answers
        self.binary_raters: Counter = Counter()
        self.unanimous = [0, 0]  # multi-rater queries, of which unanimous

    def add(self, meta: dict) -> None:
        self.count += 1
        demo = meta["demographics"]
        self.demographics["gender"][demo["gender"]] += 1
        self.demographics["ethnicity"][demo["ethnicity"]] += 1
        self.demographics["age"][f"{min(demo['age'] // 10 * 10, 70)}s"] += 1
        truth = np.asarray(meta["truth"])
        if truth.max() >= 2.0:
            self.dominant[int(truth.argmax())] += 1
        if meta["ratings"]:
            self.ratings.append(meta["ratings"])
            self.truth.append(meta["truth"])
        if meta["weak"] is not None:
            self.weak.append(meta["weak"])
            self.extra.append(list(meta["extra"].values()))
        for name, answers in meta["binary"].items():
            self.binary[name][0] += 1
            self.binary[name][1] += sum(answers.values())
            self.binary_raters.update(answers.keys())
            if len(answers) > 1:
                self.unanimous[0] += 1
                self.unanimous[1] += len(set(answers.values())) == 1

    def summary(self) -> dict:
        """JSON-ready statistics; sections appear only for the label kinds the subset has."""
        out: dict = {
            "num_samples": self.count,
            "demographics": {k: dict(sorted(v.items())) for k, v in self.demographics.items()},
            "dominant_emotion": dict(zip(NAMES, self.dominant.tolist())),
        }
        if self.ratings:
            flat = np.array([v for item in self.ratings for v in item.values()])
            out["ratings"] = {
                "num_ratings": len(flat),
                "raters_per_image": round(len(flat) / len(self.ratings), 3),
                "mean": dict(zip(NAMES, np.round(flat.mean(0), 4).tolist())),
                "positive_rate": dict(zip(NAMES, np.round((flat >= 1).mean(0), 4).tolist())),
                "kappa": {k: round(v, 4) for k, v in pairwise_kappa(self.ratings).items()},
                "loo_spearman": {k: round(v, 4) for k, v in loo_spearman(self.ratings, np.array(self.truth)).items()},
            }
        if self.weak:
            weak = np.array(self.weak)
            out["weak"] = {
                "mean": dict(zip(NAMES, np.round(weak.mean(0), 4).tolist())),
                "positive_rate": dict(zip(NAMES, np.round((weak > 0).mean(0), 4).tolist())),
                "nonzero_per_image": round(float((weak > 0).sum(1).mean()), 4),
                "extra_mean": dict(
                    zip(
                        ("arousal", "valence", "dominance", "vulnerability"),
                        np.round(np.mean(self.extra, axis=0), 4).tolist(),
                    )
                ),
            }
        if self.binary_raters:
            queries = sum(q for q, _ in self.binary.values())
            out["binary"] = {
                "num_queries": queries,
                "num_answers": sum(self.binary_raters.values()),
                "yes_rate": round(
                    sum(y for _, y in self.binary.values()) / max(sum(self.binary_raters.values()), 1), 4
                ),
                "unanimous_rate": round(self.unanimous[1] / max(self.unanimous[0], 1), 4),
                "answers_per_rater": dict(sorted(self.binary_raters.items())),
                "queried": {name: q for name, (q, _) in self.binary.items()},
            }
        return out
