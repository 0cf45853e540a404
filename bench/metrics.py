"""Agreement metrics vs their references at the size of the Big set: 200k images x 40 emotions, heavy ties.

    .venv/bin/python bench/metrics.py [--items 200000] [--repeats 3]

Each row times one of our functional metrics and its reference on the same data (best of ``--repeats``) and
prints ours/reference time (goal <= 1.0) and the largest absolute difference (goal ~0: we must be exact).
Ratings are integers 0..7 with ~80% zeros, like the weak labels. Torch runs on one thread, as the references do.

- Spearman ρ: ``emotion_spearman`` vs ``scipy.stats.spearmanr`` per column, for integer predictions (another
  rater) and for continuous ones (a model); ``torchmetrics.SpearmanCorrCoef`` is shown for its drift.
- weighted κ: ``weighted_kappa`` (quadratic, truncation) vs ``sklearn.metrics.cohen_kappa_score`` per column.
- Krippendorff's α: ``krippendorff_alpha`` vs ``krippendorff.alpha`` on one emotion, 200k items x 4 raters,
  25% of ratings missing.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import krippendorff
import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from emozoo.metrics import emotion_spearman, krippendorff_alpha, weighted_kappa


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def tied_ints(rng: np.random.Generator, shape: tuple[int, ...], p_zero: float = 0.8) -> np.ndarray:
    x = rng.integers(1, 8, size=shape).astype(np.float64)
    x[rng.random(shape) < p_zero] = 0.0
    return x


def row(name: str, ours: tuple[float, object], ref: tuple[float, object]) -> None:
    diff = np.nanmax(np.abs(np.asarray(ours[1], dtype=np.float64) - np.asarray(ref[1], dtype=np.float64)))
    print(f"{name:<48} {ours[0]:>9.3f} {ref[0]:>9.3f} {ours[0] / ref[0]:>7.2f} {diff:>10.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--emotions", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n, o, k = args.items, args.emotions, args.repeats

    target = tied_ints(rng, (n, o))
    rater = np.where(rng.random((n, o)) < 0.6, target, tied_ints(rng, (n, o)))  # a second, agreeing rater
    model = target + rng.normal(0.0, 2.0, (n, o))
    tt, tr, tm = (torch.from_numpy(x) for x in (target, rater, model))

    print(f"{n} items x {o} emotions, ints 0..7 with ~80% zeros; best of {k}; torch threads = 1")
    print(f"{'metric (ours vs reference)':<48} {'ours s':>9} {'ref s':>9} {'ratio':>7} {'max |diff|':>10}")
    for label, preds, tp in (("integer preds", rater, tr), ("float preds", model, tm)):
        ref = best_time(lambda p=preds: [spearmanr(p[:, j], target[:, j]).statistic for j in range(o)], k)
        ours = best_time(lambda tp=tp: emotion_spearman(tp, tt, average="none").numpy(), k)
        row(f"Spearman, {label} vs scipy.spearmanr", ours, ref)
        if label == "integer preds":
            from torchmetrics.functional.regression import spearman_corrcoef

            tmx = best_time(lambda tp=tp: spearman_corrcoef(tp, tt).numpy(), 1)  # float64 in: drift is not dtype
            row("  torchmetrics SpearmanCorrCoef vs scipy", tmx, ref)

    a = np.clip(target + rng.uniform(0, 1, (n, o)), 0, 7)  # continuous ratings, truncated to the same labels
    b = np.clip(rater + rng.uniform(0, 1, (n, o)), 0, 7)
    ai, bi = a.astype(int), b.astype(int)
    labels = list(range(8))
    ref = best_time(
        lambda: [cohen_kappa_score(ai[:, j], bi[:, j], weights="quadratic", labels=labels) for j in range(o)], k
    )
    ours = best_time(lambda: weighted_kappa(torch.from_numpy(a), torch.from_numpy(b), average="none").numpy(), k)
    row("weighted kappa vs sklearn.cohen_kappa_score", ours, ref)

    truth = tied_ints(rng, (n, 1))
    ratings = np.clip(truth + rng.integers(-1, 2, (n, 4)) * (rng.random((n, 4)) < 0.3), 0, 7)
    ratings[rng.random(ratings.shape) < 0.25] = np.nan
    rt = torch.from_numpy(ratings)
    refs = {}
    for level in ("interval", "ordinal", "nominal"):
        refs[level] = best_time(lambda lv=level: krippendorff.alpha(ratings.T, level_of_measurement=lv), k)
        ours = best_time(lambda lv=level: krippendorff_alpha(rt, lv, num_values=8).item(), k)
        row(f"Krippendorff {level}, 4 raters vs krippendorff", ours, refs[level])
    ours = best_time(lambda: krippendorff_alpha(rt, "interval").item(), k)
    row("  interval from the moments state (no domain)", ours, refs["interval"])


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchmetrics' "stores all data" notice
        main()
