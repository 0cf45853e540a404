"""The label pass of the EmoNet-Face converters: every table row into one ``LabelRecord`` per image.

No image bytes are read here. Each image gets a reference instead: ``("row", table, row)`` for bytes embedded in
a parquet file, ``("file", path, root)`` for a file found below the image root (``--images``, else the table's
own folder; ``root`` None with ``allow_outside_root``), ``("refused", reason)`` for a path that leaves the root
(absolute, ``..`` or a symlink leading out: a table from someone else must not make us embed ``~/.ssh`` or
``/proc/self/environ``), or None when the image is missing. Keys are the key column, else the image file's stem
(``binary.csv``'s ``00000``), else ``<table>-<row>``; they are made WebDataset-safe (no ``.`` or ``/``).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from emozoo.emonet.columns import ColumnMap, Columns, resolve_columns
from emozoo.emonet.confine import RefusedFile, confine
from emozoo.emonet.labels import LabelRecord, parse_bool, split_packed
from emozoo.emonet.read import ImageFolder, Table
from emozoo.errors import DataError

__all__ = ["Scan", "scan_tables"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


@dataclass
class Scan:
    """What the label pass found: records in first-appearance order, image references and what was skipped."""

    records: dict[str, LabelRecord] = field(default_factory=dict)
    images: dict[str, tuple | None] = field(default_factory=dict)
    image_names: dict[str, str] = field(default_factory=dict)  # key -> the source's image name, for messages
    columns: list[dict[str, Any]] = field(default_factory=list)  # per table: the resolved mapping and layout
    skipped: Counter = field(default_factory=Counter)
    rows: int = 0


def _layout(cols: Columns, path: Path) -> str:
    if cols.get("label"):
        return "packed"
    if cols.get("emotion") and cols.get("value"):
        return "long"
    if cols.emotion_columns:
        return "wide"
    raise DataError(
        f"{path}: no labels found: no packed label column (tried --map label=...), no 'emotion' + 'value' columns "
        f"and no emotion-named columns; columns present: {', '.join(cols.all)}. Set --map label=COLUMN, or "
        f"--map emotion=COLUMN and --map value=COLUMN."
    )


def _image_ref(row: dict, table_index: int, row_index: int, table: Table, folder: ImageFolder | None, root: str | None):
    """The reference for a row's image; ``root`` is the resolved image root, None with ``allow_outside_root``."""
    if row.get("__has_bytes__"):
        return ("row", table_index, row_index)
    ref = row.get("__image_path__")
    if ref in (None, ""):
        return None
    if folder is not None:
        found = folder.find(str(ref))
        if found is None or root is None:
            return None if found is None else ("file", found, None)
        return _below(os.path.relpath(found, folder.root), root)
    if root is None:  # as before the image root existed: as given (absolute or from the working folder), else beside
        for candidate in (Path(str(ref)), table.path.parent / str(ref)):
            if candidate.is_file():
                return ("file", str(candidate), None)
        return None
    return _below(str(ref), root)


def _below(ref: str, root: str) -> tuple | None:
    """``ref`` relative to ``root``: a file below it, refused (leaves it, or not a regular file), or None (missing)."""
    try:
        real = confine(ref, root)
    except RefusedFile as err:
        return ("refused", str(err))
    except OSError:
        return None
    return ("file", real, root) if os.path.isfile(real) else ("refused", "not a regular file")


def _raw_key(row: dict, key_column: str | None, table: Table, row_index: int) -> str:
    if key_column is not None and row.get(key_column) not in (None, ""):
        value = row[key_column]
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    ref = row.get("__image_path__")
    if ref:
        name = str(ref).replace("\\", "/").rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0] if "." in name else name
    return f"{table.path.stem}-{row_index:07d}"


def scan_tables(
    paths: list[Path],
    source: str,
    cmap: ColumnMap,
    folder: ImageFolder | None,
    pinned: set[str],
    progress: bool,
    allow_outside_root: bool = False,
) -> Scan:
    """Read the labels of every table; see the module docstring."""
    scan = Scan()
    safe_to_raw: dict[str, str] = {}
    tables = [Table(p) for p in paths]
    total = sum(t._pf.metadata.num_rows for t in tables if t.is_parquet) if all(t.is_parquet for t in tables) else None
    with tqdm(total=total, desc="labels", unit="row", disable=not progress, dynamic_ncols=True) as bar:
        for t_index, table in enumerate(tables):
            cols = resolve_columns(cmap, table.columns, str(table.path), required=["image"], pinned=pinned)
            layout = _layout(cols, table.path)
            if source in ("hq", "binary") and layout != "packed" and not cols.get("rater"):
                resolve_columns(cmap, table.columns, str(table.path), required=["rater"])  # raises, naming it
            scan.columns.append(
                {
                    "file": table.path.name,
                    "layout": layout,
                    "columns": cols.found,
                    "emotion_columns": len(cols.emotion_columns),
                }
            )
            wanted = [c for c in cols.found.values()] + list(cols.emotion_columns) + list(cols.extra_columns)
            root = None if allow_outside_root else os.path.realpath(folder.root if folder else table.path.parent)
            for r_index, row in enumerate(table.rows(wanted, cols.get("image"))):
                bar.update(1)
                scan.rows += 1
                _add_row(scan, safe_to_raw, source, layout, cols, row, t_index, r_index, table, folder, root)
    return scan


def _add_row(scan, safe_to_raw, source, layout, cols, row, t_index, r_index, table, folder, root) -> None:
    found = cols.found
    if "human" in found:
        try:
            if parse_bool(row.get(found["human"])) is False:
                scan.skipped["rows by model annotators (human=false)"] += 1
                return
        except ValueError:
            pass
    raw = _raw_key(row, found.get("key"), table, r_index)
    record = scan.records.get(raw)
    if record is None:
        safe = _UNSAFE.sub("_", raw)[:200]
        if safe in safe_to_raw and safe_to_raw[safe] != raw:
            raise DataError(
                f"{table.path}: image ids {safe_to_raw[safe]!r} and {raw!r} both become key {safe!r}; "
                f"map a unique id column with --map key=COLUMN"
            )
        safe_to_raw[safe] = raw
        record = scan.records[raw] = LabelRecord(safe)
    if scan.images.get(raw) is None:
        scan.images[raw] = _image_ref(row, t_index, r_index, table, folder, root)
        scan.image_names.setdefault(raw, str(row.get("__image_path__") or f"{table.path.name} row {r_index}"))
    rater = row.get(found["rater"]) if "rater" in found else None
    rater = None if rater in (None, "") else str(rater)
    try:
        if layout == "packed":
            for who, annotation in split_packed(row.get(found["label"]), rater):
                record.add_annotation(source, who, annotation)
        elif layout == "long":
            record.add_value(source, rater, row.get(found["emotion"]), row.get(found["value"]))
        else:
            annotation = {c: row.get(c) for c in [*cols.emotion_columns, *cols.extra_columns]}
            record.add_annotation(source, rater, annotation)
    except ValueError as err:
        record.errors.append(f"{table.path.name} row {r_index}: {err}")
    record.add_meta(row, found)
