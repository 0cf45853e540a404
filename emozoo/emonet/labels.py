"""Turning source rows into one label record per image, in the sample schema of docs/architecture.md §5.

Three table layouts are understood, per file, from its columns:

- **long**: one row per answer (``binary.csv``: ``path, annotator, value, emotion``);
- **packed**: a ``label`` cell per row holding ``{Family|Emotion: value}``, ``{rater: {...}}`` or
  ``[{rater: {...}}, ...]`` (the HQ release), as data, JSON or Python-literal text (the authors' ``hq.csv``);
- **wide**: one column per emotion (``Family|Emotion`` or bare names), one row per image (Big) or per image and
  rater (HQ).

Per-rater ratings are kept as they are, never aggregated. Emotion spellings go through the taxonomy (aliases such
as ``Hopelessness``; ``Family|Emotion`` keys); ``Extra Dimensions|...`` values become ``extra`` (a single VLM
annotation, Big) or ``extra_ratings`` (per rater, HQ). An emotion a rater's annotation leaves out counts as 0,
as in the authors' analysis code.
"""

from __future__ import annotations

import math
from typing import Any

from emozoo.data.schema import BadSample, validate_labels
from emozoo.emonet.read import parse_cell
from emozoo.emonet.vocab import parse_yes_no as parse_bool  # the one yes/no vocabulary of all readers
from emozoo.taxonomy import EXTRA_DIMENSIONS, NAMES, NUM_EMOTIONS, parse_label_key

__all__ = ["LabelRecord", "parse_bool", "parse_number"]

SOURCES = {"hq": "emonet-hq", "binary": "emonet-binary", "big": "emonet-big"}
DEMOGRAPHICS = ("age", "gender", "ethnicity")


def parse_number(value: Any) -> float | None:
    """A float from a number or numeric text; None for an empty cell or NaN."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ValueError(f"not a rating: {value!r}")
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"not a number: {value!r}") from None
    number = float(value)
    return None if math.isnan(number) else number


def _label_key(key: str) -> tuple[str, str]:
    try:
        return parse_label_key(str(key))
    except KeyError as err:
        raise ValueError(str(err.args[0])) from None


def _is_annotation(d: dict) -> bool:
    """Whether a dict's keys are label keys (an annotation) rather than rater ids."""
    for k in d:
        try:
            parse_label_key(str(k))
        except KeyError:
            return False
    return True


def split_packed(cell: Any, rater: str | None) -> list[tuple[str | None, Any]]:
    """A packed label cell as ``[(rater or None, annotation dict or None)]``."""
    data = parse_cell(cell)
    if data is None:
        return [(rater, None)]
    if isinstance(data, list) and data and all(isinstance(i, tuple) and len(i) == 2 for i in data):
        data = dict(data)  # a parquet map column reads as [(key, value), ...]
    if isinstance(data, list):
        out = []
        for item in data:
            out += split_packed(item, rater)
        return out
    if not isinstance(data, dict):
        raise ValueError(f"label cell is a {type(data).__name__}, expected a dict or a list of dicts")
    if data and not _is_annotation(data):
        return [(str(r), parse_cell(a)) for r, a in data.items()]
    return [(rater, data)]


class LabelRecord:
    """The labels of one image, gathered over all rows that mention it."""

    __slots__ = ("binary", "demographics", "errors", "extra", "extra_ratings", "key", "prompt", "ratings", "weak")

    def __init__(self, key: str) -> None:
        self.key = key
        self.ratings: dict[str, list[float] | None] = {}
        self.extra_ratings: dict[str, dict[str, float]] = {}
        self.binary: dict[str, dict[str, bool]] = {}
        self.weak: list[int] | None = None
        self.extra: dict[str, float | None] | None = None
        self.demographics: dict[str, Any] = {}
        self.prompt: str | None = None
        self.errors: list[str] = []

    def add_meta(self, row: dict[str, Any], columns: dict[str, str]) -> None:
        for name in DEMOGRAPHICS:
            column = columns.get(name)
            if column is not None and name not in self.demographics and row.get(column) not in (None, ""):
                value = row[column]
                self.demographics[name] = int(value) if isinstance(value, float) and value.is_integer() else value
        column = columns.get("prompt")
        if column is not None and self.prompt is None and row.get(column) not in (None, ""):
            self.prompt = str(row[column])

    def add_annotation(self, source: str, rater: str | None, annotation: dict | None) -> None:
        """One annotator's ``{label key: value}`` for this image (None: the rater gave none)."""
        if source == "binary":
            for k, v in (annotation or {}).items():
                if isinstance(v, dict):  # {emotion: {rater: answer}}
                    for r, answer in v.items():
                        self.add_answer(str(r), k, answer)
                else:
                    self.add_answer(rater, k, v)
            return
        values = [0.0] * NUM_EMOTIONS
        extra: dict[str, float] = {}
        for k, v in (annotation or {}).items():
            kind, name = _label_key(k)
            number = parse_number(v)
            if kind == "extra":
                if number is not None:
                    extra[name] = number
            elif number is not None:
                values[NAMES.index(name)] = number
        if source == "hq":
            if rater is None:
                raise ValueError("an HQ rating without a rater; map the annotator column with --map rater=COLUMN")
            if rater in self.ratings:
                self.errors.append(f"rater {rater} rated this image twice")
                return
            self.ratings[rater] = values if annotation else None
            if extra:
                self.extra_ratings[rater] = extra
        else:  # big: one weak VLM annotation
            if self.weak is not None:
                self.errors.append("more than one weak annotation")
                return
            if any(v != int(v) for v in values):
                raise ValueError("weak labels must be integers 0..7")
            self.weak = [int(v) for v in values]
            if extra:
                self.extra = {dim: extra.get(dim) for dim in EXTRA_DIMENSIONS}

    def add_answer(self, rater: str | None, emotion: str, value: Any) -> None:
        """One yes/no answer of ``rater`` about ``emotion`` (Binary)."""
        if rater is None:
            raise ValueError("a yes/no answer without a rater; map the annotator column with --map rater=COLUMN")
        kind, name = _label_key(emotion)
        if kind != "emotion":
            raise ValueError(f"binary answer about {emotion!r}, which is not one of the 40 emotions")
        answer = parse_bool(value)
        if answer is None:
            return
        answers = self.binary.setdefault(name, {})
        if answers.get(rater, answer) != answer:
            self.errors.append(f"rater {rater} answered {name} both yes and no")
        answers.setdefault(rater, answer)

    def add_value(self, source: str, rater: str | None, emotion: str, value: Any) -> None:
        """One long-table row: a yes/no answer (Binary) or one rating (HQ, Big)."""
        if source == "binary":
            self.add_answer(rater, emotion, value)
            return
        kind, name = _label_key(emotion)
        number = parse_number(value)
        if source == "hq":
            if rater is None:
                raise ValueError("an HQ rating without a rater; map the annotator column with --map rater=COLUMN")
            if kind == "extra":
                if number is not None:
                    self.extra_ratings.setdefault(rater, {})[name] = number
                return
            vec = self.ratings.get(rater) or [0.0] * NUM_EMOTIONS
            vec[NAMES.index(name)] = number if number is not None else 0.0
            self.ratings[rater] = vec
        elif kind == "extra":
            self.extra = self.extra or dict.fromkeys(EXTRA_DIMENSIONS)
            self.extra[name] = number
        else:
            if number is not None and number != int(number):
                raise ValueError("weak labels must be integers 0..7")
            self.weak = self.weak or [0] * NUM_EMOTIONS
            self.weak[NAMES.index(name)] = int(number or 0)

    def meta(self, source: str) -> dict[str, Any]:
        """The sample's ``json``; raises ``BadSample`` when it has no labels or fails the schema."""
        if self.errors:
            raise BadSample(self.errors[0])
        meta: dict[str, Any] = {
            "source": SOURCES[source],
            "demographics": self.demographics,
            "prompt": self.prompt,
            "ratings": self.ratings,
            "binary": self.binary,
            "weak": self.weak,
            "extra": self.extra,
        }
        if self.extra_ratings:
            meta["extra_ratings"] = self.extra_ratings
        if not (self.ratings or self.binary or self.weak is not None):
            raise BadSample("no labels")
        validate_labels(meta)
        return meta
