"""WeightedKappa and weighted_kappa against sklearn.metrics.cohen_kappa_score."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from metric_helpers import tied_ints
from sklearn.metrics import cohen_kappa_score

from emozoo.metrics import UndefinedMetricWarning, WeightedKappa, weighted_kappa


def sklearn_kappa(a: np.ndarray, b: np.ndarray, c: int, weights: str | None, binning: str) -> np.ndarray:
    """Per-column sklearn κ on the complete pairs, binned the same way, on the full scale 0..c-1."""
    out = []
    for j in range(a.shape[1]):
        m = ~(np.isnan(a[:, j]) | np.isnan(b[:, j]))
        x, y = a[m, j], b[m, j]
        x, y = (np.round(x), np.round(y)) if binning == "round" else (x, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns where κ is undefined; it returns NaN
            k = cohen_kappa_score(x.astype(int), y.astype(int), weights=weights, labels=list(range(c)))
        out.append(k)
    return np.array(out, dtype=np.float64)


def noisy_pair(rng: np.random.Generator, shape: tuple[int, int], c: int = 8) -> tuple[np.ndarray, np.ndarray]:
    a = rng.uniform(0, c - 1, shape)
    b = np.clip(a + rng.normal(0, 1.5, shape), 0, c - 1)
    a[rng.random(shape) < 0.3] = 0.0  # ties at zero, like real ratings
    return a, b


@pytest.mark.parametrize("weights", ["quadratic", "linear", None])
@pytest.mark.parametrize("binning", ["truncate", "round"])
def test_matches_sklearn_with_nan_pairs(weights: str | None, binning: str) -> None:
    rng = np.random.default_rng(0)
    a, b = noisy_pair(rng, (400, 5))
    a[rng.random(a.shape) < 0.2] = np.nan
    b[rng.random(b.shape) < 0.2] = np.nan
    ref = sklearn_kappa(a, b, 8, weights, binning)
    ours = weighted_kappa(torch.from_numpy(a), torch.from_numpy(b), 8, weights, binning, average="none").numpy()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert weighted_kappa(a, b, 8, weights, binning).item() == pytest.approx(ref.mean(), abs=1e-12)


def test_micro_is_kappa_of_all_pairs_pooled() -> None:
    rng = np.random.default_rng(1)
    a, b = noisy_pair(rng, (200, 4))
    b[rng.random(b.shape) < 0.3] = np.nan
    m = ~np.isnan(b)
    ref = cohen_kappa_score(a[m].astype(int), b[m].astype(int), weights="quadratic", labels=list(range(8)))
    assert weighted_kappa(a, b, average="micro").item() == pytest.approx(ref, abs=1e-12)


def test_equals_sklearn_default_labels_when_all_classes_occur() -> None:
    """Without ``labels`` sklearn re-indexes to the observed classes; with all 8 present the two agree."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 8, 300).astype(float)
    b = np.clip(a + rng.integers(-1, 2, 300), 0, 7)
    ref = cohen_kappa_score(a.astype(int), b.astype(int), weights="quadratic")
    assert weighted_kappa(a, b).item() == pytest.approx(ref, abs=1e-12)


def test_truncation_is_astype_int() -> None:
    a = np.array([0.0, 0.99, 1.0, 3.5, 6.999, 7.0])
    b = np.array([0.5, 1.0, 1.7, 3.0, 6.0, 7.0])
    ref = cohen_kappa_score(a.astype(int), b.astype(int), weights="quadratic", labels=list(range(8)))
    assert weighted_kappa(a, b).item() == pytest.approx(ref, abs=1e-12)
    assert weighted_kappa(a, b).item() != pytest.approx(weighted_kappa(a, b, binning="round").item())


def test_class_accumulates_batches() -> None:
    rng = np.random.default_rng(3)
    a, b = tied_ints(rng, (333, 40)), tied_ints(rng, (333, 40))
    b = np.where(rng.random(b.shape) < 0.5, a, b)  # agree half of the time
    b[:, 0] = a[:, 0]  # perfect agreement on one output
    metric = WeightedKappa(average="none")
    pooled = WeightedKappa(average="micro")
    for s in range(0, 333, 100):
        metric.update(torch.from_numpy(a[s : s + 100]), torch.from_numpy(b[s : s + 100]))
        pooled.update(torch.from_numpy(a[s : s + 100]), torch.from_numpy(b[s : s + 100]))
    ref = sklearn_kappa(a, b, 8, "quadratic", "truncate")
    np.testing.assert_allclose(metric.compute().numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(metric.compute_per_output().numpy(), ref, atol=1e-12)
    assert metric.compute()[0].item() == pytest.approx(1.0)
    assert pooled.compute().item() == pytest.approx(weighted_kappa(a, b, average="micro").item(), abs=1e-12)
    assert int(metric.confusion.sum()) == 333 * 40


def test_single_class_and_no_pairs_are_nan_with_warning() -> None:
    a = np.zeros((20, 2))
    b = np.zeros((20, 2))
    b[:, 1] = np.nan
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(weighted_kappa(a, b, average="none").numpy()).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(cohen_kappa_score(a[:, 0].astype(int), b[:, 0].astype(int), weights="quadratic"))


def test_one_rater_single_class_other_varies() -> None:
    a = np.zeros(10)
    b = np.array([0, 1, 2, 3, 0, 0, 1, 2, 0, 0], dtype=float)
    ref = cohen_kappa_score(a.astype(int), b.astype(int), weights="quadratic", labels=list(range(8)))
    assert weighted_kappa(a, b).item() == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.zeros((4, 2)), np.zeros((5, 2)), "same shape"),
        (np.zeros((0, 3)), np.zeros((0, 3)), "empty"),
        (np.full((3, 1), 7.5), np.zeros((3, 1)), r"outside the declared scale \[0, 7\]"),
        (np.zeros((3, 1)), np.full((3, 1), -0.5), "outside the declared scale"),
        (np.zeros((3, 1)), np.array([[0.0], [np.inf], [1.0]]), "outside the declared scale"),
    ],
)
def test_bad_input_raises(a: np.ndarray, b: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        weighted_kappa(a, b)


def test_bad_options_and_compute_without_data() -> None:
    with pytest.raises(ValueError, match="weights"):
        WeightedKappa(weights="cubic")
    with pytest.raises(ValueError, match="binning"):
        WeightedKappa(binning="floor")
    with pytest.raises(ValueError, match="num_classes"):
        weighted_kappa([0.0], [0.0], num_classes=1)
    metric = WeightedKappa(num_outputs=2)
    with pytest.raises(ValueError, match="num_outputs=2"):
        metric.update(torch.zeros(3, 40), torch.zeros(3, 40))
    with pytest.raises(ValueError, match="no data"):
        metric.compute()
