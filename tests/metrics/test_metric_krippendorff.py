"""KrippendorffAlpha and krippendorff_alpha against the ``krippendorff`` package, on random and real data."""

from __future__ import annotations

from pathlib import Path

import krippendorff
import numpy as np
import pytest
import torch
from metric_helpers import binary_by_emotion, reliability_matrix, tied_ints

from emozoo.emonet.annotations import read_annotations
from emozoo.metrics import KrippendorffAlpha, UndefinedMetricWarning, krippendorff_alpha
from emozoo.taxonomy import NAMES

LEVELS = ["nominal", "ordinal", "interval", "ratio"]


def sparse_ratings(rng: np.random.Generator, items: int, raters: int, high: int = 8, missing: float = 0.4):
    """items x raters integer ratings that mostly agree, with NaN for missing."""
    truth = tied_ints(rng, (items, 1), p_zero=0.5, high=high)
    x = np.clip(truth + rng.integers(-1, 2, (items, raters)), 0, high - 1).astype(np.float64)
    x[rng.random(x.shape) < missing] = np.nan
    return x


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_domain_state_matches_package(level: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = sparse_ratings(rng, 120, 5)
    ref = krippendorff.alpha(x.T, level_of_measurement=level)
    assert krippendorff_alpha(torch.from_numpy(x), level, num_values=8).item() == pytest.approx(ref, abs=1e-9)
    # a declared domain with values nobody used changes nothing
    domain = [-1.0, *range(8), 9.5]
    assert krippendorff_alpha(x, level, value_domain=domain).item() == pytest.approx(ref, abs=1e-9)


def test_moments_state_matches_package_on_continuous_ratings() -> None:
    rng = np.random.default_rng(3)
    truth = rng.uniform(0, 7, (300, 1))
    x = np.clip(truth + rng.normal(0, 1, (300, 4)), 0, 7).round(1)
    x[rng.random(x.shape) < 0.35] = np.nan
    ref = krippendorff.alpha(x.T, level_of_measurement="interval")
    assert krippendorff_alpha(x).item() == pytest.approx(ref, abs=1e-9)
    metric = KrippendorffAlpha(num_outputs=1)
    for s in range(0, 300, 64):  # units never straddle batches
        metric.update(torch.from_numpy(x[s : s + 64]))
    assert metric.compute().item() == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_class_per_output_and_pooled(level: str) -> None:
    rng = np.random.default_rng(4)
    x = np.stack([sparse_ratings(rng, 90, 4, high=6) for _ in range(3)], axis=-1)  # items x raters x 3
    metric = KrippendorffAlpha(level, num_outputs=3, num_values=6, average="micro")
    metric.update(torch.from_numpy(x[:40]))
    metric.update(torch.from_numpy(x[40:]))
    per = metric.compute_per_output().numpy()
    refs = [krippendorff.alpha(x[:, :, j].T, level_of_measurement=level) for j in range(3)]
    np.testing.assert_allclose(per, refs, atol=1e-9)
    flat = x.transpose(1, 0, 2).reshape(4, -1)  # every (item, output) a unit
    pooled_ref = krippendorff.alpha(flat, level_of_measurement=level)
    assert metric.compute().item() == pytest.approx(pooled_ref, abs=1e-9)
    macro = krippendorff_alpha(x, level, num_values=6).item()
    assert macro == pytest.approx(np.mean(refs), abs=1e-9)


def test_one_rater_is_nan_with_warning_where_package_raises() -> None:
    x = np.arange(10, dtype=np.float64).reshape(10, 1) % 3
    with pytest.raises(ValueError):
        krippendorff.alpha(x.T, level_of_measurement="nominal")
    with pytest.warns(UndefinedMetricWarning, match="rated at least twice"):
        assert np.isnan(krippendorff_alpha(x, "nominal", num_values=3).item())
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(krippendorff_alpha(x).item())


def test_all_equal_values_are_nan_with_warning() -> None:
    x = np.full((12, 3), 0.1)
    x[::4, 1] = np.nan
    with pytest.raises(ValueError):  # the package needs two values in the domain
        krippendorff.alpha(x.T, level_of_measurement="interval")
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(krippendorff_alpha(x).item())
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(krippendorff_alpha(x, "ordinal", value_domain=[0.1, 0.2]).item())


def test_variation_only_in_unpairable_units() -> None:
    x = np.array([[1.0, 1.0], [1.0, 1.0], [3.0, np.nan]])
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(krippendorff_alpha(x, "nominal", num_values=4).item())


@pytest.mark.parametrize(
    ("kwargs", "ratings", "match"),
    [
        ({"num_values": 3}, np.array([[0.0, 3.0]]), "outside the declared value domain"),
        ({"num_values": 3}, np.array([[0.0, 1.5]]), "outside the declared value domain"),
        ({"value_domain": [0, 1]}, np.array([[0.0, 2.0]]), "outside"),
        ({}, np.array([[0.0, np.inf]]), "finite"),
        ({}, np.zeros((0, 3)), "empty"),
        ({}, np.zeros((4, 0)), "empty"),
        ({}, np.zeros(5), "shape"),
    ],
)
def test_bad_input_raises(kwargs: dict, ratings: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        krippendorff_alpha(ratings, **kwargs)


def test_bad_options_and_compute_without_data() -> None:
    with pytest.raises(ValueError, match="needs a finite value domain"):
        KrippendorffAlpha(level="nominal")
    with pytest.raises(ValueError, match="level"):
        KrippendorffAlpha(level="cardinal")
    with pytest.raises(ValueError, match="not both"):
        KrippendorffAlpha(num_values=3, value_domain=[0, 1, 2])
    metric = KrippendorffAlpha(num_outputs=40)
    with pytest.raises(ValueError, match="num_outputs=40"):
        metric.update(torch.zeros(5, 3, 2))
    with pytest.raises(ValueError, match="no data"):
        metric.compute()


def test_real_binary_labels_nominal_alpha_per_emotion(emonet_dir: Path) -> None:
    """binary.csv: our α per emotion (through the CSV reader) equals the package on a hand-built matrix."""
    table = read_annotations(emonet_dir / "binary.csv")
    ours = krippendorff_alpha(table.ratings, "nominal", value_domain=[0, 1], average="none").numpy()
    cells = binary_by_emotion(emonet_dir)
    assert set(cells) == set(NAMES)  # Hopelessness folded into Helplessness
    for k, name in enumerate(NAMES):
        ref = krippendorff.alpha(reliability_matrix(cells[name]), level_of_measurement="nominal")
        assert ours[k] == pytest.approx(ref, abs=1e-9), name
    metric = KrippendorffAlpha("nominal", num_values=2, average="none")
    metric.update(torch.from_numpy(table.ratings[:7000]))
    metric.update(torch.from_numpy(table.ratings[7000:]))
    np.testing.assert_allclose(metric.compute().numpy(), ours, atol=1e-12)
