"""agreement_report against a plain-loop re-implementation of the protocol, plus its files and bad input."""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
import time
from pathlib import Path

import krippendorff
import numpy as np
import pytest
import torch
from scipy.stats import mannwhitneyu

from emozoo.metrics import agreement_report
from emozoo.taxonomy import NAMES

# ---- an independent, loop-by-loop version of the protocol (no emozoo code, no scipy ranking) ----


def ref_ranks(xs: list[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def ref_spearman(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return math.nan
    rx, ry = ref_ranks(xs), ref_ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx, vy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else math.nan


def ref_kappa(pairs: list[tuple[int, int]], c: int = 8) -> float:
    if not pairs:
        return math.nan
    n = len(pairs)
    obs = [[0] * c for _ in range(c)]
    for a, b in pairs:
        obs[a][b] += 1
    rows = [sum(obs[i]) for i in range(c)]
    cols = [sum(obs[i][j] for i in range(c)) for j in range(c)]
    num = sum((i - j) ** 2 * obs[i][j] for i in range(c) for j in range(c))
    den = sum((i - j) ** 2 * rows[i] * cols[j] / n for i in range(c) for j in range(c))
    return 1 - num / den if den > 0 else math.nan


def nanmean(xs) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return sum(xs) / len(xs) if xs else math.nan


def rho_vs_median(pred: np.ndarray, items, med: list[list[float]]) -> list[float]:
    """ρ per emotion over ``items`` (with repeats, for a resample) where the median exists."""
    out = []
    for e in range(len(med[0])):
        keep = [i for i in items if not math.isnan(med[i][e])]
        out.append(ref_spearman([float(pred[i, e]) for i in keep], [med[i][e] for i in keep]))
    return out


def ref_protocol(p: np.ndarray, r: np.ndarray, n_boot: int, seed: int) -> dict:
    n, n_r, n_e = r.shape
    rated = lambda i, k, e: not math.isnan(r[i, k, e])  # noqa: E731
    med = [[math.nan] * n_e for _ in range(n)]
    for i in range(n):
        for e in range(n_e):
            given = [r[i, k, e] for k in range(n_r) if rated(i, k, e)]
            med[i][e] = statistics.median(given) if given else math.nan

    boot_ss, random_ss = np.random.SeedSequence(seed).spawn(2)
    rand = np.random.default_rng(random_ss).uniform(0, 7, size=p.shape)
    boot_rng = np.random.default_rng(boot_ss)
    means = {"model": [], "random": []}
    for _ in range(n_boot):
        idx = boot_rng.integers(0, n, n).tolist()
        means["model"].append(nanmean(rho_vs_median(p, idx, med)))
        means["random"].append(nanmean(rho_vs_median(rand, idx, med)))
    loo = []
    for k in range(n_r):
        row = []
        for e in range(n_e):
            xs, ys = [], []
            for i in range(n):
                others = [r[i, o, e] for o in range(n_r) if o != k and rated(i, o, e)]
                if rated(i, k, e) and others:
                    xs.append(r[i, k, e])
                    ys.append(statistics.median(others))
            row.append(ref_spearman(xs, ys))
        loo.append(row)
    loo_e = [nanmean([loo[k][e] for k in range(n_r)]) for e in range(n_e)]

    def kappas(a_of, b_of):  # a_of(i, e) / b_of(i, e) -> label or None
        def both(cells):
            return [(a_of(i, e), b_of(i, e)) for i, e in cells if a_of(i, e) is not None and b_of(i, e) is not None]

        shared = [both([(i, e) for i in range(n)]) for e in range(n_e)]
        per_e = [ref_kappa(c) if len(c) >= 2 else math.nan for c in shared]  # the notebook skips < 2 shared
        pooled = ref_kappa(both([(i, e) for i in range(n) for e in range(n_e)]))
        return per_e, pooled

    lab = lambda k: lambda i, e: int(r[i, k, e]) if rated(i, k, e) else None  # noqa: E731
    model_lab = lambda i, e: int(min(max(p[i, e], 0.0), 7.0))  # noqa: E731
    human = [kappas(lab(a), lab(b)) for a, b in itertools.combinations(range(n_r), 2)]
    model_k = [kappas(model_lab, lab(k)) for k in range(n_r)]
    alpha = [krippendorff.alpha(r[:, :, e].T, level_of_measurement="interval") for e in range(n_e)]
    return {
        "model_rho": rho_vs_median(p, range(n), med),
        "random_rho": rho_vs_median(rand, range(n), med),
        "ci": {k: np.percentile([m for m in v if not math.isnan(m)], [2.5, 97.5]).tolist() for k, v in means.items()},
        "loo_e": loo_e,
        "loo_mean": nanmean(loo_e),
        "human_pooled": [h[1] for h in human],
        "human_units": [k for h in human for k in h[0] if not math.isnan(k)],
        "model_units": [k for m in model_k for k in m[0] if not math.isnan(k)],
        "human_e": [nanmean([h[0][e] for h in human]) for e in range(n_e)],
        "model_pooled": [m[1] for m in model_k],
        "model_e": [nanmean([m[0][e] for m in model_k]) for e in range(n_e)],
        "alpha": alpha,
    }


def synthetic(n: int, n_raters: int, n_e: int, per_image: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Continuous 0..7 ratings by a subset of raters per image, and a noisy model."""
    rng = np.random.default_rng(seed)
    truth = np.clip(rng.gamma(0.6, 2.0, (n, n_e)), 0, 7)
    r = np.clip(truth[:, None, :] + rng.normal(0, 1.2, (n, n_raters, n_e)), 0, 7).round(1)
    for i in range(n):
        r[i, rng.choice(n_raters, n_raters - per_image, replace=False)] = np.nan
    p = truth + rng.normal(0, 1.0, (n, n_e))
    return p, r


def vals(d: dict) -> list[float]:
    return [math.nan if v is None else v for v in d.values()]


def test_report_matches_loop_reference() -> None:
    p, r = synthetic(36, 4, 3, per_image=3, seed=1)
    r[5, :, 1] = np.nan  # one image nobody rated on emotion 1
    emotions = list(NAMES[:3])
    rep = agreement_report(p, r, rater_names=["a", "b", "c", "d"], emotions=emotions, n_bootstrap=25, seed=7)
    ref = ref_protocol(p, r, n_boot=25, seed=7)
    close = lambda got, want: np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)  # noqa: E731
    close(vals(rep["model"]["per_emotion_spearman"]), ref["model_rho"])
    close(rep["model"]["mean_spearman"], nanmean(ref["model_rho"]))
    close(rep["model"]["spearman_ci"], ref["ci"]["model"])
    close(vals(rep["random"]["per_emotion_spearman"]), ref["random_rho"])
    close(rep["random"]["spearman_ci"], ref["ci"]["random"])
    close(vals(rep["raters"]["loo_per_emotion"]), ref["loo_e"])
    close(rep["raters"]["loo_mean_spearman"], ref["loo_mean"])
    kappa = rep["kappa"]
    close(vals(kappa["human_human"]["pooled_per_pair"]), ref["human_pooled"])
    assert list(kappa["human_human"]["units"]) == ["a|b", "a|c", "a|d", "b|c", "b|d", "c|d"]
    close(kappa["human_human"]["mean"], np.mean(ref["human_units"]))  # the authors' mean over (pair, emotion)
    close(kappa["human_human"]["mean_pooled_pairs"], nanmean(ref["human_pooled"]))
    close(vals(kappa["human_human"]["per_emotion"]), ref["human_e"])
    close(vals(kappa["model_human"]["pooled_per_pair"]), ref["model_pooled"])
    close(vals(kappa["model_human"]["per_emotion"]), ref["model_e"])
    mw = mannwhitneyu(ref["model_units"], ref["human_units"], alternative="two-sided")
    assert kappa["mann_whitney"]["n_model"] == len(ref["model_units"]) == 12
    close(kappa["mann_whitney"]["p_value"], mw.pvalue)
    close(kappa["mann_whitney"]["statistic"], mw.statistic)
    assert kappa["mann_whitney"]["could_be_annotator"] == (mw.pvalue > 0.05)
    close(vals(rep["alpha"]["per_emotion"]), ref["alpha"])
    assert rep["meta"]["rated_images_per_emotion"][emotions[1]] == 35
    json.dumps(rep, allow_nan=False)  # JSON-able, NaN already None


def test_undefined_emotion_is_listed_and_left_out() -> None:
    p, r = synthetic(40, 3, 4, per_image=2, seed=2)
    r[:, :, 2] = np.where(np.isnan(r[:, :, 2]), np.nan, 0.0)  # nobody ever sees emotion 2
    emotions = list(NAMES[:4])
    rep = agreement_report(p, r, emotions=emotions, n_bootstrap=10)
    assert rep["model"]["per_emotion_spearman"][emotions[2]] is None
    assert rep["model"]["excluded_emotions"] == [emotions[2]]
    assert rep["alpha"]["per_emotion"][emotions[2]] is None
    defined = [v for v in rep["model"]["per_emotion_spearman"].values() if v is not None]
    assert rep["model"]["mean_spearman"] == pytest.approx(np.mean(defined))


def test_files_are_written(tmp_path: Path) -> None:
    p, r = synthetic(50, 4, 40, per_image=2, seed=3)
    rep = agreement_report(torch.from_numpy(p), torch.from_numpy(r), n_bootstrap=20, out_dir=tmp_path, model_name="m1")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["model"] == rep["model"] and saved["files"] == rep["files"]
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# Agreement report: m1")
    assert sum(line.startswith(f"| {e} |") for e in NAMES for line in md.splitlines()) == 40
    assert "Mann–Whitney" in md and re.search(r"Verdict: m1 (is indistinguishable from|agrees with the raters)", md)
    for name in ("spearman_per_emotion.png", "kappa_by_group.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_one_rater_still_reports() -> None:
    p, r = synthetic(30, 1, 3, per_image=1, seed=4)
    rep = agreement_report(p, r, emotions=list(NAMES[:3]), n_bootstrap=5)
    assert rep["model"]["mean_spearman"] is not None
    assert rep["raters"]["loo_mean_spearman"] is None
    assert rep["kappa"]["human_human"]["mean"] is None
    assert rep["kappa"]["mann_whitney"]["p_value"] is None
    assert rep["alpha"]["mean"] is None


def test_fast_enough_at_paper_scale() -> None:
    p, r = synthetic(1000, 8, 40, per_image=4, seed=5)
    start = time.perf_counter()
    rep = agreement_report(p, r, n_bootstrap=1000)
    # a few seconds on a quiet core; generous bound for a shared CI machine
    assert time.perf_counter() - start < 30
    lo, hi = rep["model"]["spearman_ci"]
    assert lo < rep["model"]["mean_spearman"] < hi
    assert rep["random"]["spearman_ci"][1] < lo


@pytest.mark.parametrize(
    ("pred_shape", "rating_shape", "match"),
    [
        ((10, 3), (11, 2, 3), "ratings must have shape"),
        ((10, 3), (10, 2, 4), "ratings must have shape"),
        ((10, 4), (10, 2, 3), "predictions must have shape"),
        ((0, 3), (0, 2, 3), "nothing to score"),
        ((10, 3), (10, 0, 3), "nothing to score"),
    ],
)
def test_bad_shapes_raise(pred_shape, rating_shape, match) -> None:
    with pytest.raises(ValueError, match=match):
        agreement_report(np.zeros(pred_shape), np.zeros(rating_shape), emotions=NAMES[:3], n_bootstrap=2)


def test_bad_values_raise() -> None:
    p, r = synthetic(20, 3, 3, per_image=2)
    emotions = NAMES[:3]
    with pytest.raises(ValueError, match=r"outside the declared scale \[0, 7\]"):
        agreement_report(p, r * 2, emotions=emotions, n_bootstrap=2)
    with pytest.raises(ValueError, match="finite"):
        agreement_report(np.where(p > 1, np.nan, p), r, emotions=emotions, n_bootstrap=2)
    with pytest.raises(ValueError, match="all NaN"):
        agreement_report(p, np.full_like(r, np.nan), emotions=emotions, n_bootstrap=2)
    with pytest.raises(ValueError, match="rater_names"):
        agreement_report(p, r, rater_names=["x"], emotions=emotions, n_bootstrap=2)
    with pytest.raises(ValueError, match="n_bootstrap"):
        agreement_report(p, r, emotions=emotions, n_bootstrap=0)


def test_constant_model_column_scores_zero_not_excluded():
    """A model that switches an emotion off (all zeros) gets rho = 0 there instead of being left out."""
    import numpy as np

    from emozoo.metrics import agreement_report

    rng = np.random.default_rng(0)
    ratings = rng.uniform(0, 7, size=(30, 3, 40))
    preds = np.nanmedian(ratings, axis=1).copy()
    preds[:, 5] = 0.0
    report = agreement_report(preds, ratings, n_bootstrap=50)
    name = report["meta"]["emotions"][5]
    assert report["model"]["per_emotion_spearman"][name] == 0.0
    assert name not in report["model"]["excluded_emotions"]
    others = [v for k, v in report["model"]["per_emotion_spearman"].items() if k != name]
    assert report["model"]["mean_spearman"] == pytest.approx(sum(others) / 40)
    lo, hi = report["model"]["spearman_ci"]
    assert lo <= report["model"]["mean_spearman"] <= hi


def test_annotator_table_is_the_notebooks() -> None:
    """analysis-hq.ipynb's agreement table: per rater, mean over emotions of its mean κ with the other raters."""
    p, r = synthetic(60, 4, 3, per_image=3, seed=9)
    names = ["a", "b", "c", "d"]
    rep = agreement_report(p, r, rater_names=names, emotions=list(NAMES[:3]), n_bootstrap=5)
    units = rep["kappa"]["human_human"]["units"]
    for rater in names:
        per_e = []
        for e in NAMES[:3]:
            ks = [u[e] for pair, u in units.items() if rater in pair.split("|") and u[e] is not None]
            ref = [
                ref_kappa(
                    [(int(r[i, x, k]), int(r[i, y, k])) for i in range(60) if not np.isnan(r[i, x, k] + r[i, y, k])]
                )
                for x, y in [(names.index(rater), o) for o in range(4) if o != names.index(rater)]
                for k in [NAMES.index(e)]
            ]
            assert sorted(ks) == pytest.approx(sorted(v for v in ref if not math.isnan(v)), abs=1e-12)
            per_e.append(np.mean(ks))
        assert rep["kappa"]["annotator_table"][rater] == pytest.approx(np.mean(per_e), abs=1e-12)
    want = np.mean([v for v in rep["kappa"]["model_human"]["per_emotion"].values() if v is not None])
    assert rep["kappa"]["annotator_table"]["model"] == pytest.approx(want, abs=1e-12)
