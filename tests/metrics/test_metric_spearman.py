"""EmotionSpearman and emotion_spearman against scipy.stats.spearmanr (ties, NaN, degenerate and large inputs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_helpers import tied_ints
from scipy.stats import rankdata, spearmanr

from emozoo.metrics import EmotionSpearman, UndefinedMetricWarning, emotion_spearman
from emozoo.metrics.ranks import average_ranks_1d
from emozoo.metrics.spearman import average_ranks


def scipy_rho(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-column scipy ρ on the rows where both are non-NaN; NaN where scipy cannot define it."""
    out = []
    for j in range(p.shape[1]):
        m = ~(np.isnan(p[:, j]) | np.isnan(t[:, j]))
        a, b = p[m, j], t[m, j]
        ok = m.sum() >= 2 and np.ptp(a) > 0 and np.ptp(b) > 0
        out.append(spearmanr(a, b).statistic if ok else np.nan)
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scipy_with_ties_and_nan(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, o = 300, 6
    target = tied_ints(rng, (n, o))
    preds = np.round(target + rng.normal(0, 2, (n, o)), 1)  # rounded: ties in preds too
    preds[:, 1] = tied_ints(rng, (n,))  # integer preds take the counting path
    target[rng.random((n, o)) < 0.25] = np.nan
    preds[rng.random((n, o)) < 0.05] = np.nan
    ours = emotion_spearman(torch.from_numpy(preds), torch.from_numpy(target), average="none").numpy()
    np.testing.assert_allclose(ours, scipy_rho(preds, target), rtol=0, atol=1e-12)
    assert emotion_spearman(preds, target).item() == pytest.approx(np.mean(scipy_rho(preds, target)), abs=1e-12)


def test_class_accumulates_batches_like_one_call() -> None:
    rng = np.random.default_rng(3)
    target = tied_ints(rng, (257, 40))
    target[rng.random(target.shape) < 0.3] = np.nan
    preds = rng.normal(size=(257, 40))
    metric = EmotionSpearman()
    for s in range(0, 257, 50):
        metric.update(torch.from_numpy(preds[s : s + 50]), torch.from_numpy(target[s : s + 50]))
    np.testing.assert_allclose(metric.compute_per_output().numpy(), scipy_rho(preds, target), atol=1e-12)
    assert metric.compute().item() == pytest.approx(np.nanmean(scipy_rho(preds, target)), abs=1e-12)
    none = EmotionSpearman(num_outputs=40, average="none")
    none.update(torch.from_numpy(preds), torch.from_numpy(target))
    assert none.compute().shape == (40,)


def test_average_ranks_match_rankdata() -> None:
    rng = np.random.default_rng(4)
    x = np.round(rng.normal(size=(80, 3)), 1)
    x[:, 2] = tied_ints(rng, (80,))
    x[rng.random(x.shape) < 0.2] = np.nan
    ours = average_ranks(torch.from_numpy(x)).numpy()
    for j in range(3):
        m = ~np.isnan(x[:, j])
        np.testing.assert_array_equal(ours[m, j], rankdata(x[m, j]))
        assert np.isnan(ours[~m, j]).all()
    half = np.array([0.5, 2.5, 0.5, 1.5])  # integer-spaced but not integer: still exact
    np.testing.assert_array_equal(average_ranks_1d(half), rankdata(half))


def test_constant_column_is_nan_warned_and_left_out_of_mean() -> None:
    rng = np.random.default_rng(5)
    preds = rng.normal(size=(50, 3))
    target = tied_ints(rng, (50, 3))
    target[:, 1] = 2.0  # a single class: ρ undefined
    with pytest.warns(UndefinedMetricWarning, match="output"):
        per = emotion_spearman(preds, target, average="none").numpy()
    assert np.isnan(per[1]) and not np.isnan(per[[0, 2]]).any()
    with pytest.warns(UndefinedMetricWarning):
        assert emotion_spearman(preds, target).item() == pytest.approx(np.mean(per[[0, 2]]))


def test_all_equal_and_single_item_give_nan_with_warning() -> None:
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(emotion_spearman(np.ones((10, 2)), np.ones((10, 2))).item())
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(emotion_spearman([[1.0]], [[2.0]]).item())
    with pytest.warns(UndefinedMetricWarning):  # only one non-NaN pair left
        assert np.isnan(emotion_spearman([1.0, 2.0, 3.0], [1.0, np.nan, np.nan]).item())


def test_perfect_and_reversed_rankings() -> None:
    x = torch.tensor([0.0, 0.0, 1.0, 3.0, 7.0])
    assert emotion_spearman(x, x * 2 + 1).item() == pytest.approx(1.0)
    assert emotion_spearman(x, -x).item() == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("preds", "target", "match"),
    [
        (np.zeros((4, 2)), np.zeros((4, 3)), "same shape"),
        (np.zeros((0, 2)), np.zeros((0, 2)), "empty"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), "shape"),
    ],
)
def test_bad_input_raises(preds: np.ndarray, target: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        emotion_spearman(preds, target)


def test_class_rejects_wrong_outputs_and_compute_without_data() -> None:
    metric = EmotionSpearman(num_outputs=40)
    with pytest.raises(ValueError, match="num_outputs=40"):
        metric.update(torch.zeros(3, 39), torch.zeros(3, 39))
    with pytest.raises(ValueError, match="no data"):
        metric.compute()
    with pytest.raises(ValueError, match="average"):
        EmotionSpearman(average="micro")


def test_large_tied_data_matches_scipy_to_1e9() -> None:
    """200k items of mostly-zero 0..7 integers: where torchmetrics' int32 rank sums drift from scipy."""
    rng = np.random.default_rng(6)
    n = 200_000
    target = tied_ints(rng, (n, 3), p_zero=0.9)
    preds = np.column_stack([tied_ints(rng, (n,), p_zero=0.85), target[:, 1] + rng.normal(0, 3, n), target[:, 2]])
    preds[:, 2][rng.random(n) < 0.1] = 0.0  # nearly equal to the target, heavily tied
    ours = emotion_spearman(torch.from_numpy(preds), torch.from_numpy(target), average="none").numpy()
    ref = np.array([spearmanr(preds[:, j], target[:, j]).statistic for j in range(3)])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)
