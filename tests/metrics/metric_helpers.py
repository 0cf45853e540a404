"""Reference helpers for the agreement-metric tests (imported as a plain module; fixtures live in tests/conftest.py)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from emozoo.taxonomy import canonical_name


def binary_by_emotion(emonet_dir: Path) -> dict[str, dict[tuple[str, str], float]]:
    """binary.csv read with the csv module only: {canonical emotion: {(path, annotator): 0/1}}."""
    out: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    with open(emonet_dir / "binary.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out[canonical_name(row["emotion"])][(row["path"], row["annotator"])] = float(row["value"] == "True")
    return dict(out)


def reliability_matrix(cells: dict[tuple[str, str], float]) -> np.ndarray:
    """raters x items matrix (NaN = not rated), the layout ``krippendorff.alpha`` expects."""
    items = sorted({i for i, _ in cells})
    raters = sorted({r for _, r in cells})
    ii = {x: k for k, x in enumerate(items)}
    rr = {x: k for k, x in enumerate(raters)}
    m = np.full((len(raters), len(items)), np.nan)
    for (item, rater), v in cells.items():
        m[rr[rater], ii[item]] = v
    return m


def tied_ints(rng: np.random.Generator, shape: tuple[int, ...], p_zero: float = 0.8, high: int = 8) -> np.ndarray:
    """Mostly-zero integer ratings 0..high-1 as float64: the heavy-tie regime of the real labels."""
    x = rng.integers(1, high, size=shape).astype(np.float64)
    x[rng.random(shape) < p_zero] = 0.0
    return x
