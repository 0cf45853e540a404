"""Label statistics for SynthFace manifests: per-emotion rates, rater agreement, demographic balance.

The agreement numbers follow the paper's protocol (DESIGN.md §1): quadratic-weighted Cohen's kappa on ratings
truncated to integers, averaged over rater pairs; leave-one-out Spearman of each rater against the median of
the others. They are computed here with NumPy/SciPy only, so the library does not need scikit-learn; the
tests check the kappa against scikit-learn's.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
from scipy.stats import spearmanr

from emozoo.taxonomy import NAMES, NUM_EMOTIONS

__all__ = ["LabelStats", "loo_spearman", "pairwise_kappa", "quadratic_kappa"]

_LEVELS = 8  # integer labels 0..7


def quadratic_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights of two integer label vectors in 0..7 (NaN when undefined)."""
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    observed = np.zeros((_LEVELS, _LEVELS))
    np.add.at(observed, (a, b), 1.0)
    expected = np.outer(observed.sum(1), observed.sum(0)) / max(len(a), 1)
    i, j = np.indices((_LEVELS, _LEVELS))
    weights = (i - j) ** 2
    denominator = (weights * expected).sum()
    return float("nan") if denominator == 0 else float(1.0 - (weights * observed).sum() / denominator)


def _pairs(ratings: list[dict[str, list[float]]]):
    """For each rater pair with common images: their (n, 40) integer ratings on those images."""
    raters = sorted({r for item in ratings for r in item})
    for r1, r2 in combinations(raters, 2):
        both = [(item[r1], item[r2]) for item in ratings if item.get(r1) and item.get(r2)]
        if len(both) >= 2:
            yield np.array([x for x, _ in both]).astype(int), np.array([y for _, y in both]).astype(int)


def pairwise_kappa(ratings: list[dict[str, list[float]]]) -> dict[str, float]:
    """Mean pairwise quadratic kappa over rater pairs: per emotion then averaged (``mean``) and pooled."""
    per_emotion, pooled = [], []
    for x, y in _pairs(ratings):
        per_emotion.append([quadratic_kappa(x[:, e], y[:, e]) for e in range(NUM_EMOTIONS)])
        pooled.append(quadratic_kappa(x.ravel(), y.ravel()))
    if not pooled:
        return {"mean": float("nan"), "pooled": float("nan"), "pairs": 0}
    return {"mean": float(np.nanmean(per_emotion)), "pooled": float(np.nanmean(pooled)), "pairs": len(pooled)}


def loo_spearman(ratings: list[dict[str, list[float]]], truth: np.ndarray | None = None) -> dict[str, float]:
    """Each rater's Spearman rho against the median of the other raters on the images they share.

    With ``truth`` ((n, 40) latents), also the rho of the truth against the same medians: what a model that
    recovered the latent exactly would score in the same leave-one-out comparison.
    """
    raters = sorted({r for item in ratings for r in item})
    human, oracle = [], []
    for r in raters:
        rows = [i for i, item in enumerate(ratings) if r in item and len(item) >= 3]
        if len(rows) < 10:
            continue
        own = np.array([ratings[i][r] for i in rows])
        others = np.array([np.median([v for k, v in ratings[i].items() if k != r], axis=0) for i in rows])
        for e in range(NUM_EMOTIONS):
            if np.ptp(others[:, e]) == 0 or np.ptp(own[:, e]) == 0:
                continue
            human.append(spearmanr(own[:, e], others[:, e])[0])
            if truth is not None and np.ptp(truth[rows, e]) > 0:
                oracle.append(spearmanr(truth[rows, e], others[:, e])[0])
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
