"""Reading an annotation table (who rated which image how) into a (images, raters, 40) ratings array.

Two CSV layouts are understood:

- **long**, as ``binary.csv``: one row per rating, columns ``path,annotator,value,emotion``. Values are
  ``True``/``False`` (also ``yes``/``no``) or numbers.
- **wide**: one row per (image, rater), columns ``path,annotator`` and one column per emotion, named by its
  name, slug, alias or ``Family|Name`` key. ``Extra Dimensions|...`` columns (arousal, valence, ...) are skipped.

Empty cells, ``nan``, ``NA`` and ``null`` mean "not rated". Anything else that is wrong raises ``DataError``
naming the file, line or column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emozoo.errors import DataError
from emozoo.taxonomy import NAMES, emotion_index, parse_label_key

__all__ = ["FORMATS", "AnnotationTable", "read_annotations"]

FORMATS = ("auto", "long", "wide")
LONG_COLUMNS = ("path", "annotator", "value", "emotion")
_MISSING = {"", "nan", "na", "null", "none"}
_BOOLS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


@dataclass
class AnnotationTable:
    """Ratings of one table: ``ratings[i, r, e]`` is rater r's value for image i and emotion e, NaN if none."""

    ratings: np.ndarray
    images: list[str]
    raters: list[str]
    source: str
    n_ratings: int = field(default=0)

    @property
    def is_binary(self) -> bool:
        """All ratings are 0/1 (yes/no labels)."""
        vals = self.ratings[~np.isnan(self.ratings)]
        return bool(np.isin(vals, (0.0, 1.0)).all())


def _value(cell: str, where: str) -> float:
    s = cell.strip()
    low = s.lower()
    if low in _MISSING:
        return float("nan")
    if low in _BOOLS:
        return _BOOLS[low]
    try:
        v = float(s)
    except ValueError:
        raise DataError(f"{where}: value {cell!r} is neither True/False nor a number") from None
    if not np.isfinite(v):
        raise DataError(f"{where}: value {cell!r} is not a finite number")
    return v


def _emotion(name: str, where: str) -> int:
    try:
        return emotion_index(name)
    except KeyError as err:
        raise DataError(f"{where}: {err.args[0]}") from None


class _Builder:
    """Collects (image, rater, emotion, value) and refuses a second value for the same triple."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.images: dict[str, int] = {}
        self.raters: dict[str, int] = {}
        self.cells: dict[tuple[int, int, int], float] = {}

    def add(self, image: str, rater: str, emotion: int, value: float, where: str) -> None:
        if not image or not rater:
            raise DataError(f"{where}: empty path or annotator")
        if np.isnan(value):
            return
        key = (
            self.images.setdefault(image, len(self.images)),
            self.raters.setdefault(rater, len(self.raters)),
            emotion,
        )
        if key in self.cells:
            raise DataError(f"{where}: a second rating of {NAMES[emotion]!r} by {rater!r} for image {image!r}")
        self.cells[key] = value

    def build(self) -> AnnotationTable:
        if not self.cells:
            raise DataError(f"{self.source}: no ratings found (the table is empty or every value is missing)")
        ratings = np.full((len(self.images), len(self.raters), len(NAMES)), np.nan)
        idx = np.array(list(self.cells.keys()))
        ratings[idx[:, 0], idx[:, 1], idx[:, 2]] = np.fromiter(self.cells.values(), dtype=np.float64)
        return AnnotationTable(ratings, list(self.images), list(self.raters), self.source, len(self.cells))


def _read_long(rows: csv.DictReader, b: _Builder) -> None:
    for line, row in enumerate(rows, start=2):
        where = f"{b.source}:{line}"
        value = _value(row["value"] or "", where)
        b.add(row["path"], row["annotator"], _emotion(row["emotion"] or "", where), value, where)


def _read_wide(rows: csv.DictReader, header: list[str], b: _Builder) -> None:
    columns: dict[str, int] = {}
    for col in header:
        if col in ("path", "annotator"):
            continue
        try:
            kind, name = parse_label_key(col)
        except KeyError as err:
            raise DataError(f"{b.source}: column {col!r}: {err.args[0]}") from None
        if kind == "emotion":
            if name in {NAMES[i] for i in columns.values()}:
                raise DataError(f"{b.source}: two columns name the emotion {name!r}")
            columns[col] = emotion_index(name)
    if not columns:
        raise DataError(f"{b.source}: no emotion columns; columns present: {', '.join(header)}")
    for line, row in enumerate(rows, start=2):
        where = f"{b.source}:{line}"
        for col, e in columns.items():
            b.add(row["path"], row["annotator"], e, _value(row[col] or "", f"{where} column {col!r}"), where)


def read_annotations(path: str | Path, format: str = "auto") -> AnnotationTable:
    """Read a long or wide annotation CSV (see the module docstring).

    Args:
        path: the CSV file.
        format: ``"long"``, ``"wide"`` or ``"auto"`` (long when the header has ``value`` and ``emotion``).

    Raises:
        DataError: missing file, missing columns (the message lists those present), bad values or names,
            duplicate ratings, or no ratings at all.
    """
    if format not in FORMATS:
        raise DataError(f"format must be one of {FORMATS}, got {format!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = csv.DictReader(fh)
        header = [h.strip() for h in rows.fieldnames or []]
        rows.fieldnames = header
        if format == "auto":
            format = "long" if {"value", "emotion"} <= set(header) else "wide"
        needed = LONG_COLUMNS if format == "long" else ("path", "annotator")
        missing = [c for c in needed if c not in header]
        if missing:
            present = ", ".join(header) if header else "none (empty file)"
            raise DataError(
                f"{path}: missing column(s) {', '.join(missing)} for the {format} format; present: {present}"
            )
        b = _Builder(str(path))
        _read_long(rows, b) if format == "long" else _read_wide(rows, header, b)
    return b.build()
