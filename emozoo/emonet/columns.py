"""Which source column holds what: the column mapping of the EmoNet-Face converters.

The Hugging Face releases (``laion/emonet-face-{hq,binary,big}``) and the authors' annotation tables do not
document their column names fully, so every field the converters read is looked up through ``ColumnMap``: each
field has a tuple of candidate names, tried in order, case-insensitively. ``--map field=COLUMN`` (or a YAML file
of ``field: COLUMN``) pins one column; ``--map field=`` (empty) switches an optional field off. A required field
that matches no column raises a ``DataError`` that lists the columns the file has and the ``--map`` key to set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from emozoo.errors import DataError
from emozoo.taxonomy import parse_label_key

__all__ = ["ColumnMap", "Columns", "load_column_map", "resolve_columns"]


@dataclass(frozen=True)
class ColumnMap:
    """Candidate column names per field, tried in order (case-insensitive); the first that exists is used.

    Attributes:
        key: a stable image id. Optional: without it the key is the image file's stem, else the row number.
        image: the image, as bytes, an HF ``Image`` struct ``{bytes, path}``, or a path under ``--images``.
        label: packed labels, one cell per row: a dict (or its JSON / Python-literal text) of ``Family|Emotion``
            keys to values, ``{rater: {...}}`` or ``[{rater: {...}}, ...]`` (the HQ release's ``label``).
            Without it, emotion-named columns (wide layout) or ``emotion``/``value`` rows (long layout) are used.
        rater: the annotator of a row (long tables, HQ ratings with one row per image and rater).
        emotion: the queried emotion of a row in a long table (``binary.csv``: ``emotion``).
        value: the answer of a row in a long table (``binary.csv``: ``value``, ``True``/``False``).
        human: whether a row's annotator is a human expert; rows marked false (model annotators in the
            authors' ``hq.csv``) are skipped and counted. Optional.
        age: demographics, optional.
        gender: demographics, optional.
        ethnicity: demographics, optional.
        prompt: the generation prompt, optional.
    """

    key: tuple[str, ...] = ("key", "__key__", "id", "image_id", "file_name", "filename")
    image: tuple[str, ...] = ("image", "path", "img", "jpg", "png", "webp", "image_bytes", "image_binary", "file")
    label: tuple[str, ...] = ("label", "labels", "annotations", "annotation")
    rater: tuple[str, ...] = ("annotator", "rater", "rater_id", "annotator_id")
    emotion: tuple[str, ...] = ("emotion", "category", "queried_emotion")
    value: tuple[str, ...] = ("value", "answer", "response")
    human: tuple[str, ...] = ("human", "is_human")
    age: tuple[str, ...] = ("age",)
    gender: tuple[str, ...] = ("gender", "sex")
    ethnicity: tuple[str, ...] = ("ethnicity", "race")
    prompt: tuple[str, ...] = ("prompt", "caption", "text")

    def override(self, items: Mapping[str, str | None]) -> ColumnMap:
        """A copy with ``field -> column`` pinned (an empty or None column switches the field off)."""
        known = [f.name for f in fields(self)]
        changes = {}
        for name, column in items.items():
            if name not in known:
                raise DataError(f"unknown column-map key {name!r}; valid keys: {', '.join(known)}")
            changes[name] = (str(column),) if column not in (None, "") else ()
        return replace(self, **changes)


FIELDS = tuple(f.name for f in fields(ColumnMap))


@dataclass
class Columns:
    """The columns one table resolved to: field -> column name (absent fields are not in ``found``)."""

    found: dict[str, str]
    emotion_columns: dict[str, str]  # column -> canonical emotion name (wide layout)
    extra_columns: dict[str, str]  # column -> extra dimension (wide layout)
    all: list[str]

    def get(self, name: str) -> str | None:
        return self.found.get(name)


def parse_map_items(items: Iterable[str]) -> dict[str, str]:
    """``["image=path", "key="]`` -> ``{"image": "path", "key": ""}``."""
    out = {}
    for item in items:
        if "=" not in item:
            raise DataError(f"--map {item!r} is not FIELD=COLUMN (e.g. --map image=path); fields: {', '.join(FIELDS)}")
        name, column = item.split("=", 1)
        out[name.strip()] = column.strip()
    return out


def load_column_map(map_items: Iterable[str] = (), yaml_file: str | Path | None = None) -> ColumnMap:
    """The default ``ColumnMap`` with a YAML file's ``field: column`` entries, then ``--map`` items, applied."""
    cmap = ColumnMap()
    if yaml_file is not None:
        import yaml

        try:
            data = yaml.safe_load(Path(yaml_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise DataError(f"{yaml_file}: cannot read the column map ({str(err).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise DataError(f"{yaml_file}: expected a mapping of field: column (fields: {', '.join(FIELDS)})")
        cmap = cmap.override({str(k): v for k, v in data.items()})
    return cmap.override(parse_map_items(map_items))


def _label_column(name: str) -> tuple[str, str] | None:
    """``("emotion", canonical)`` / ``("extra", dim)`` when a column is named after a label key, else None."""
    try:
        return parse_label_key(name)
    except KeyError:
        return None


def resolve_columns(
    cmap: ColumnMap, columns: list[str], source: str, required: Iterable[str] = (), pinned: Iterable[str] = ()
) -> Columns:
    """Match ``cmap`` against a table's columns.

    Args:
        cmap: the column map.
        columns: the table's column names.
        source: the table's file name, for messages.
        required: fields that must resolve.
        pinned: fields the user set explicitly; those must exist even when optional.

    Raises:
        DataError: a required (or pinned) field matches no column; the message lists the columns present.
    """
    lower = {c.lower(): c for c in columns}
    found: dict[str, str] = {}
    taken: set[str] = set()
    for name in FIELDS:
        for candidate in getattr(cmap, name):
            column = candidate if candidate in columns else lower.get(candidate.lower())
            if column is not None and column not in taken:
                found[name] = column
                taken.add(column)
                break
    for name in list(required) + list(pinned):
        if name not in found:
            tried = ", ".join(getattr(cmap, name)) or "nothing (switched off)"
            raise DataError(
                f"{source}: no column for '{name}' (tried: {tried}); columns present: {', '.join(columns)}. "
                f"Set it with --map {name}=COLUMN (or '{name}: COLUMN' in the --columns YAML)."
            )
    emotion_columns, extra_columns = {}, {}
    for column in columns:
        if column in taken:
            continue
        kind = _label_column(column)
        if kind is not None and kind[0] == "emotion":
            emotion_columns[column] = kind[1]
        elif kind is not None:
            extra_columns[column] = kind[1]
    return Columns(found, emotion_columns, extra_columns, list(columns))
