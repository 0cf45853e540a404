"""Reading an annotation table (who rated which image how) into sparse per-rating arrays.

The table is kept as one entry per rating (``image``, ``rater``, ``emotion`` indices and ``value``), so memory is
proportional to the number of ratings, whatever the number of raters; ``AnnotationTable.dense()`` gives the
(images, raters, 40) array for small tables.

Two CSV layouts are understood:

- **long**, as ``binary.csv``: one row per rating, columns ``path,annotator,value,emotion``. Values are the
  yes/no words of :mod:`emozoo.emonet.vocab` (the same as the shard converter's) or numbers.
- **wide**: one row per (image, rater), columns ``path,annotator`` and one column per emotion, named by its
  name, slug, alias or ``Family|Name`` key. ``Extra Dimensions|...`` columns (arousal, valence, ...) are skipped.

Empty cells, ``nan``, ``NA``, ``n/a``, ``null`` and ``none`` mean "not rated" (``emozoo.emonet.vocab.MISSING``).
Anything else that is wrong raises ``DataError`` naming the file, line or column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emozoo.emonet.vocab import parse_rating
from emozoo.errors import DataError
from emozoo.taxonomy import NAMES, emotion_index, parse_label_key

__all__ = ["FORMATS", "AnnotationTable", "read_annotations"]

FORMATS = ("auto", "long", "wide")
LONG_COLUMNS = ("path", "annotator", "value", "emotion")
# a dense (images, raters, 40) float64 copy above this many cells is refused: use the sparse arrays instead
DENSE_LIMIT = 50_000_000


@dataclass
class AnnotationTable:
    """The ratings of one table, one entry per rating: rater ``raters[rater[k]]`` gave ``value[k]`` to emotion
    ``emotion[k]`` (an index into ``taxonomy.NAMES``) of image ``images[image[k]]``."""

    image: np.ndarray
    rater: np.ndarray
    emotion: np.ndarray
    value: np.ndarray
    images: list[str]
    raters: list[str]
    source: str

    @property
    def n_ratings(self) -> int:
        return int(self.value.size)

    @property
    def is_binary(self) -> bool:
        """All ratings are 0/1 (yes/no labels)."""
        return bool(np.isin(self.value, (0.0, 1.0)).all())

    def dense(self) -> np.ndarray:
        """(images, raters, 40) float64 with NaN where not rated; DataError for tables too large for that."""
        shape = (len(self.images), len(self.raters), len(NAMES))
        if int(np.prod(shape, dtype=np.float64)) > DENSE_LIMIT:
            raise DataError(
                f"{self.source}: a dense {shape[0]} x {shape[1]} x {shape[2]} array is too large; use the sparse "
                "arrays (image, rater, emotion, value) instead"
            )
        out = np.full(shape, np.nan)
        out[self.image, self.rater, self.emotion] = self.value
        return out

    @property
    def ratings(self) -> np.ndarray:
        """The dense array of :meth:`dense`, for small tables."""
        return self.dense()


def _value(cell: str, where: str) -> float:
    try:
        v = parse_rating(cell)
    except ValueError as err:
        raise DataError(f"{where}: {err}") from None
    if v is not None and not 0.0 <= v <= 7.0:  # the metrics' scale; a value off it would fail far from its row
        raise DataError(f"{where}: value {cell.strip()!r} is outside the 0-7 rating scale (yes/no read as 1/0)")
    return float("nan") if v is None else v


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
        idx = np.array(list(self.cells.keys()), dtype=np.int64).reshape(-1, 3)
        value = np.fromiter(self.cells.values(), dtype=np.float64, count=len(self.cells))
        return AnnotationTable(
            idx[:, 0], idx[:, 1], idx[:, 2], value, list(self.images), list(self.raters), self.source
        )


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
    try:
        return _read(path, format)
    except csv.Error as err:  # e.g. a field over the csv module's size limit
        raise DataError(f"{path}: not a readable CSV table ({err})") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def _read(path: Path, format: str) -> AnnotationTable:
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
