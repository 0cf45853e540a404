"""The authors' agreement protocol, exactly: κ aggregation and vote splits on the real binary.csv, the
Mann–Whitney test on (pair, emotion) κ units, and sparse memory for tables with many raters.

References are computed here from the CSV with the csv module, scikit-learn and SciPy, following the authors'
``statistics/analysis-binary.ipynb`` and ``analysis-hq.ipynb`` (LAION-AI/emonet-face at f4d4dab) line by line.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from metric_helpers import binary_by_emotion
from scipy.stats import mannwhitneyu
from sklearn.metrics import cohen_kappa_score

from emozoo.cli import main
from emozoo.emonet.annotations import read_annotations
from emozoo.metrics import agreement_report
from emozoo.metrics.agreement import mann_whitney
from emozoo.metrics.interrater import interrater_agreement, interrater_agreement_sparse
from emozoo.taxonomy import NAMES


def ref_kappa_units(cells: dict[str, dict[tuple[str, str], float]]) -> dict[tuple[str, str, str], float]:
    """The notebook's get_hh_kappas: κ per (rater pair, emotion) with >= 2 shared images, NaN dropped."""
    out = {}
    for emotion, by_cell in cells.items():
        by_rater: dict[str, dict[str, int]] = defaultdict(dict)
        for (img, rater), v in by_cell.items():
            by_rater[rater][img] = int(v)
        for a, b in itertools.combinations(sorted(by_rater), 2):
            shared = sorted(set(by_rater[a]) & set(by_rater[b]))
            if len(shared) < 2:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                k = cohen_kappa_score(
                    [by_rater[a][i] for i in shared],
                    [by_rater[b][i] for i in shared],
                    weights="quadratic",
                    labels=list(range(8)),
                )
            if not np.isnan(k):
                out[(a, b, emotion)] = k
    return out


@pytest.fixture(scope="module")
def binary(emonet_dir: Path) -> dict:
    table = read_annotations(emonet_dir / "binary.csv")
    result = interrater_agreement_sparse(table.image, table.rater, table.emotion, table.value, table.raters)
    return {"result": result, "cells": binary_by_emotion(emonet_dir)}


def test_binary_csv_overall_kappa_is_the_authors_mean_over_units(binary: dict) -> None:
    ov = binary["result"]["overall"]
    units = ref_kappa_units(binary["cells"])
    assert ov["kappa_units"] == len(units)
    assert ov["kappa_mean"] == pytest.approx(np.mean(list(units.values())), abs=1e-12)
    assert round(ov["kappa_mean"], 4) == -0.0273  # the value the authors' code gives on this file
    assert round(ov["kappa_pooled_pair_mean"], 4) == -0.0212  # the pooled variant, kept under its own name
    for e, v in binary["result"]["per_emotion"].items():  # per emotion: mean over that emotion's pairs
        ks = [k for (_, _, emo), k in units.items() if emo == e]
        assert v["pairs"] == len(ks), e
        assert v["kappa"] == (pytest.approx(np.mean(ks), abs=1e-12) if ks else None), e


def test_binary_csv_per_rater_kappa_is_the_notebook_table(binary: dict) -> None:
    units = ref_kappa_units(binary["cells"])
    raters = {r for a, b, _ in units for r in (a, b)}
    for rater in raters:
        per_e = [[k for (a, b, e), k in units.items() if e == emo and rater in (a, b)] for emo in NAMES]
        want = np.mean([np.mean(ks) for ks in per_e if ks])
        assert binary["result"]["per_rater"][rater]["kappa"] == pytest.approx(want, abs=1e-12), rater


def test_binary_csv_vote_splits_are_the_authors(binary: dict) -> None:
    """analysis-binary.ipynb: units rated more than once, their 2/3-rating shares and vote types, per emotion."""
    votes = binary["result"]["votes"]
    assert votes["n_units"] == 14670
    per = votes["per_emotion"]
    assert (per["Elation"]["n"], per["Sexual Lust"]["n"], per["Helplessness"]["n"]) == (456, 94, 359)
    for emotion, by_cell in binary["cells"].items():
        groups: dict[str, list[float]] = defaultdict(list)
        for (img, _), v in by_cell.items():
            groups[img].append(v)
        multi = [g for g in groups.values() if len(g) > 1]
        kinds = {"agreement": 0, "partial": 0, "disagreement": 0}
        for g in multi:  # the notebook's agreement_type
            n, yes = len(g), sum(g)
            kind = "agreement" if yes in (0, n) else "partial" if n == 3 else "disagreement"
            kinds[kind] += 1
        got = per[emotion]
        assert got["n"] == len(multi), emotion
        assert got["unanimous"] == pytest.approx(kinds["agreement"] / len(multi), abs=1e-12)
        assert got["split_2_1"] == pytest.approx(kinds["partial"] / len(multi), abs=1e-12)
        assert got["split_1_1"] == pytest.approx(kinds["disagreement"] / len(multi), abs=1e-12)
        assert got["rated_3"] == pytest.approx(sum(len(g) == 3 for g in multi) / len(multi), abs=1e-12)
        # what the README says about this file: no multi-rated unit is a unanimous "no"
        assert got["unanimous_no"] == 0.0


@pytest.mark.parametrize("level", ["interval", "nominal", "ordinal"])
def test_sparse_equals_dense(level: str) -> None:
    """The sparse path (α from units, κ from rating pairs) equals the dense metrics on the same table."""
    from emozoo.metrics import krippendorff_alpha

    rng = np.random.default_rng(3)
    r = rng.integers(0, 8, (40, 5, 4)).astype(float)
    r[rng.random(r.shape) < 0.4] = np.nan
    emotions = list(NAMES[:4])
    dense = interrater_agreement(r, emotions=emotions, level=level)
    i, k, e = np.nonzero(~np.isnan(r))
    sparse = interrater_agreement_sparse(i, k, e, r[i, k, e], [f"rater-{j}" for j in range(5)], emotions, level)
    assert json.dumps(dense, sort_keys=True) == json.dumps(sparse, sort_keys=True)
    domain = None if level == "interval" else list(range(8))
    want = krippendorff_alpha(r, level, value_domain=domain, average="none").numpy()
    np.testing.assert_allclose([sparse["per_emotion"][n]["alpha"] for n in emotions], want, atol=1e-12)


def _units_by_sklearn(a: np.ndarray, b: np.ndarray) -> list[float]:
    out = []
    for e in range(a.shape[1]):
        ok = ~np.isnan(a[:, e]) & ~np.isnan(b[:, e])
        if ok.sum() >= 2:
            k = cohen_kappa_score(
                a[ok, e].astype(int), b[ok, e].astype(int), weights="quadratic", labels=list(range(8))
            )
            if not np.isnan(k):
                out.append(k)
    return out


@pytest.mark.parametrize(("model_noise", "direction"), [(0.3, "better"), (3.0, "worse")])
def test_mann_whitney_on_unit_kappas_matches_scipy(model_noise: float, direction: str) -> None:
    """A model closer to (or farther from) the truth than the raters: the test and the words say which."""
    rng = np.random.default_rng(11)
    n, n_r, n_e = 120, 4, 6
    truth = rng.uniform(0, 7, (n, n_e))
    r = np.clip(truth[:, None, :] + rng.normal(0, 1.5, (n, n_r, n_e)), 0, 7)
    p = np.clip(truth + rng.normal(0, model_noise, (n, n_e)), 0, 7)
    emotions = list(NAMES[:n_e])
    rep = agreement_report(p, r, emotions=emotions, n_bootstrap=5, model_name="m")
    human = [k for a, b in itertools.combinations(range(n_r), 2) for k in _units_by_sklearn(r[:, a], r[:, b])]
    model = [k for j in range(n_r) for k in _units_by_sklearn(p, r[:, j])]
    want = mannwhitneyu(model, human, alternative="two-sided")
    mw = rep["kappa"]["mann_whitney"]
    assert (mw["n_model"], mw["n_human"]) == (len(model), len(human)) == (n_r * n_e, 6 * n_e)
    assert mw["statistic"] == pytest.approx(want.statistic) and mw["p_value"] == pytest.approx(want.pvalue)
    assert mw["p_value"] < 0.05 and mw["direction"] == direction and mw["could_be_annotator"] is False
    assert f"{direction} than an annotator" in mw["verdict"]
    assert "per-(rater pair, emotion)" in mw["inputs"]


def test_verdict_words() -> None:
    same = mann_whitney([0.1, 0.2, 0.3, 0.4], [0.15, 0.25, 0.35, 0.45])
    assert same["direction"] == "indistinguishable" and same["could_be_annotator"] is True
    assert "indistinguishable from an annotator" in same["verdict"] and "p = " in same["verdict"]
    better = mann_whitney(np.linspace(0.8, 0.9, 30), np.linspace(0.1, 0.2, 30))
    assert "agrees with the raters more than they agree with each other" in better["verdict"]
    assert better["mean_difference"] > 0 and better["prob_model_higher"] == 1.0
    assert mann_whitney([], [0.1])["direction"] is None


def test_report_folder(emonet_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    assert main(["agreement", str(emonet_dir / "binary.csv"), "--out", str(out)]) == 0
    saved = json.loads((out / "agreement.json").read_text())
    assert round(saved["overall"]["kappa_mean"], 4) == -0.0273
    md = (out / "agreement.md").read_text()
    assert "| Sexual Lust | 94 |" in md and "mean over 227 (rater pair, emotion) units" in md
    for name in ("vote_splits.png", "alpha_kappa_per_emotion.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


_LIMITED = """
import resource, sys
limit = 5 * 2**30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from emozoo.cli import main
sys.exit(main(["agreement", sys.argv[1], "--json", sys.argv[2]]))
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics")
def test_many_raters_fit_in_memory_proportional_to_ratings(tmp_path: Path) -> None:
    """20k raters, 20k ratings: a dense images x raters x 40 array would need 12 GB; the cap is 5 GB."""
    rng = np.random.default_rng(0)
    path = tmp_path / "many.csv"
    lines, rater = ["path,annotator,value,emotion"], 0
    for img in range(2000):
        for e in rng.choice(len(NAMES), 2, replace=False):
            for _ in range(5):
                lines.append(f"i{img},h{rater},{rng.choice(['True', 'False'])},{NAMES[e]}")
                rater += 1
    path.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    run = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(path), str(tmp_path / "out.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["n_raters"] == 20000 and result["n_ratings"] == 20000


def test_too_many_rating_pairs_is_a_clear_error() -> None:
    n = 200  # one (image, emotion) rated by 200 raters: 19,900 rating pairs
    with pytest.raises(
        ValueError, match=r"19,900 pairs of ratings.*200 ratings of one emotion.*max_rating_pairs=1,000"
    ):
        interrater_agreement_sparse(
            np.zeros(n), np.arange(n), np.zeros(n), np.ones(n), [f"r{i}" for i in range(n)], max_rating_pairs=1000
        )


def test_oversized_csv_field_is_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "t.csv"
    path.write_text("path,annotator,value,emotion\nx,r," + "1" * 200_000 + ",Anger\n")
    assert main(["agreement", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable CSV table" in err


def test_sizes_that_would_explode_are_refused() -> None:
    rng = np.random.default_rng(0)
    image, rater, emotion = np.repeat(np.arange(100), 2), np.tile([0, 1], 100), np.zeros(200, int)
    value = rng.uniform(0, 7, 200)
    with pytest.raises(ValueError, match="200 distinct values.*use level='interval'"):
        interrater_agreement_sparse(image, rater, emotion, value, ["a", "b"], level="nominal")
    with pytest.raises(ValueError, match="num_classes must be at least 2 and at most 64"):
        interrater_agreement_sparse(image, rater, emotion, value, ["a", "b"], num_classes=100_000)
    assert interrater_agreement_sparse(image, rater, emotion, value, ["a", "b"])["overall"]["alpha_mean"] is not None
