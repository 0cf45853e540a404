"""Reading the EmoNet-Face sources: tables (CSV, TSV, parquet) row by row, and images from parquet or a folder.

Tables are read in two passes. The label pass never touches image bytes: parquet columns are projected (an HF
``Image`` struct is read through its ``path`` child only), and whether a row has image bytes comes from the
row-group statistics (null counts), reading the bytes column only for row groups that report nulls. The write
pass then fetches each image by (file, row) through a small row-group cache, so a release of 200k images is
never held in memory.

``as_shard_image`` lets through only bytes that ``emozoo.images.load_image`` decodes; the files a table names are
read through ``emonet.confine``.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emozoo.errors import DataError
from emozoo.images import load_image

__all__ = [
    "ImageFolder",
    "ParquetImages",
    "Table",
    "as_shard_image",
    "find_tables",
    "image_bytes_format",
    "parse_cell",
]

TABLE_SUFFIXES = (".parquet", ".csv", ".tsv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_BATCH = 2048


def find_tables(inputs: list[str | Path]) -> list[Path]:
    """Table files among ``inputs`` (files, or directories searched recursively), in a stable order."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in TABLE_SUFFIXES and p.is_file())
        elif path.is_file():
            if path.suffix.lower() not in TABLE_SUFFIXES:
                raise DataError(f"{path}: not a table; expected {', '.join(TABLE_SUFFIXES)}")
            found.append(path)
        else:
            raise DataError(f"input not found: {path}")
    if not found:
        raise DataError(f"no {'/'.join(TABLE_SUFFIXES)} files in {', '.join(map(str, inputs))}")
    return found


def parse_cell(value: Any) -> Any:
    """A packed label cell as Python data: JSON text, Python-literal text (the authors' CSVs) or data as is."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"cannot parse label cell {text[:60]!r}") from None


class Table:
    """One table file. ``image_kind`` is ``bytes`` (embedded), ``struct`` (HF Image), ``path`` or None."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_parquet = path.suffix.lower() == ".parquet"
        if self.is_parquet:
            import pyarrow.parquet as pq

            self._pf = pq.ParquetFile(path)
            self.schema = self._pf.schema_arrow
            self.columns = list(self.schema.names)
        else:
            with open(path, newline="", encoding="utf-8-sig") as f:
                self.columns = next(csv.reader(f, delimiter=self._delimiter), [])

    @property
    def _delimiter(self) -> str:
        return "\t" if self.path.suffix.lower() == ".tsv" else ","

    def image_kind(self, column: str) -> str:
        if not self.is_parquet:
            return "path"
        import pyarrow as pa

        typ = self.schema.field(column).type
        if pa.types.is_struct(typ):
            names = [typ.field(i).name for i in range(typ.num_fields)]
            if "bytes" in names:
                return "struct"
            if "path" in names:
                return "path"
            raise DataError(f"{self.path}: image column '{column}' is a struct without 'bytes' or 'path'")
        if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
            return "bytes"
        return "path"

    def rows(self, columns: list[str], image: str | None) -> Iterator[dict[str, Any]]:
        """Rows as dicts of ``columns``; with ``image``, ``__image_path__`` and ``__has_bytes__`` are added."""
        if not self.is_parquet:
            with open(self.path, newline="", encoding="utf-8-sig") as f:
                for row in csv.DictReader(f, delimiter=self._delimiter):
                    out = {c: row.get(c) for c in columns}
                    if image is not None:
                        out["__image_path__"], out["__has_bytes__"] = row.get(image) or None, False
                    yield out
            return
        kind = self.image_kind(image) if image is not None else None
        wanted = [c for c in columns if c != image]
        if kind == "struct" and "path" in [f.name for f in self.schema.field(image).type]:
            wanted.append(f"{image}.path")
        elif kind == "path":
            wanted.append(image)
        for rg in range(self._pf.metadata.num_row_groups):
            present = self._bytes_present(rg, image, kind) if kind in ("struct", "bytes") else None
            offset = 0
            for batch in self._pf.iter_batches(columns=wanted, row_groups=[rg], batch_size=_BATCH):
                for i, row in enumerate(batch.to_pylist()):
                    out = {c: row.get(c) for c in columns if c != image}
                    if kind is not None:
                        cell = row.get(image)
                        out["__image_path__"] = cell.get("path") if isinstance(cell, dict) else cell
                        out["__has_bytes__"] = bool(present[offset + i]) if present is not None else False
                    yield out
                offset += batch.num_rows

    def _bytes_present(self, rg: int, image: str, kind: str) -> list[bool]:
        meta = self._pf.metadata.row_group(rg)
        leaf = f"{image}.bytes" if kind == "struct" else image
        for j in range(meta.num_columns):
            col = meta.column(j)
            stats = col.statistics
            if col.path_in_schema == leaf and stats is not None and stats.has_null_count and stats.null_count == 0:
                return [True] * meta.num_rows  # the common case: no need to read a single image
        return [v is not None and len(v) > 0 for v in self.read_images(rg, image)]

    @property
    def row_group_rows(self) -> list[int]:
        return [self._pf.metadata.row_group(i).num_rows for i in range(self._pf.metadata.num_row_groups)]

    def read_images(self, rg: int, image: str) -> list[bytes | None]:
        """The image bytes of one row group (None where a row has none)."""
        kind = self.image_kind(image)
        leaf = f"{image}.bytes" if kind == "struct" else image
        values = self._pf.read_row_group(rg, columns=[leaf]).column(0).to_pylist()
        return [(v or {}).get("bytes") for v in values] if kind == "struct" else values


class ParquetImages:
    """Image bytes by (table, row), one row group at a time, keeping the last few row groups."""

    def __init__(self, tables: list[Table | None], image_columns: list[str | None], cache: int = 2) -> None:
        self.tables, self.image_columns, self.cache_size = tables, image_columns, cache
        self._starts = [_cumulative(t.row_group_rows) if t is not None and t.is_parquet else [0] for t in tables]
        self._cache: OrderedDict[tuple[int, int], list[bytes | None]] = OrderedDict()

    def get(self, table: int, row: int) -> bytes | None:
        starts = self._starts[table]
        rg = bisect_right(starts, row) - 1
        key = (table, rg)
        if key not in self._cache:
            self._cache[key] = self.tables[table].read_images(rg, self.image_columns[table])
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return self._cache[key][row - starts[rg]]


def _cumulative(counts: list[int]) -> list[int]:
    out, total = [], 0
    for n in counts:
        out.append(total)
        total += n
    return out


class ImageFolder:
    """Image files under a directory, found by relative path, file name or stem (``binary.csv``'s ``00000``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"image folder not found: {self.root}; pass the folder holding the images with --images")
        self.by_rel: dict[str, str] = {}
        self.by_name: dict[str, str] = {}
        self.by_stem: dict[str, str] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                if os.path.splitext(name)[1].lower() not in IMAGE_SUFFIXES:
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                self.by_rel[rel] = full
                self.by_name.setdefault(name, full)  # first in sorted order wins, deterministically
                self.by_stem.setdefault(os.path.splitext(name)[0], full)

    def __len__(self) -> int:
        return len(self.by_rel)

    def find(self, ref: str) -> str | None:
        ref = str(ref).strip().replace("\\", "/").removeprefix("./")
        if not ref:
            return None
        name = ref.rsplit("/", 1)[-1]
        stem, suffix = os.path.splitext(name)
        # "00000" names its file by stem; "a.png" may exist as "a.jpg" (a release re-encoded the images)
        found = self.by_rel.get(ref) or self.by_name.get(name) or self.by_stem.get(name)
        return found or (self.by_stem.get(stem) if suffix.lower() in IMAGE_SUFFIXES else None)


_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"))


def image_bytes_format(data: bytes) -> str | None:
    """``jpg``/``png``/``webp`` from the magic bytes, else None."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def as_shard_image(data: bytes, *, max_pixels: int, name: str) -> tuple[str, bytes]:
    """``(ext, bytes)`` for a shard: JPEG/PNG/WebP as they are, other formats as PNG of the decoded image.

    Every image must decode with ``load_image`` under ``max_pixels`` first, so no shard holds bytes that are not an
    image (a table naming a text file, a truncated JPEG, a decompression bomb).

    Raises:
        ImageError: the bytes do not decode, or the image is over ``max_pixels``; the message names ``name``.
    """
    image = load_image(data, max_pixels=max_pixels, name=name)
    ext = image_bytes_format(data)
    if ext is not None:
        return ext, data
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "png", buf.getvalue()
