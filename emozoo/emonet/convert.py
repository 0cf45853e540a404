"""EmoNet-Face sources to WebDataset shards: ``emozoo shards convert {hq,binary,big} INPUT ... --out DIR``.

Reads the Hugging Face releases ``laion/emonet-face-{hq,binary,big}`` from a local directory (parquet, images
embedded as bytes or HF ``Image`` structs, or as paths) and the authors' annotation tables (the long
``binary.csv``, HQ ratings with one row per image and rater) together with an image folder. Column names go
through ``ColumnMap`` (``convert_columns``); rows become one label record per image (``convert_labels``,
``convert_scan``), in the sample schema of DESIGN.md §3, checked with ``schema.validate_labels``.

Output: ``{split}-%06d.tar`` shards and ``manifest.json`` in ``--out``, written by ``ShardSetWriter`` (atomic,
resumable: a killed run started again skips the shards already written and gives the same bytes). Each image's
split is a pure function of its key: ``sha1(salt + key)`` mapped to [0, 1) and cut at the split fractions, so it
never changes when other images are added or removed. Within a split, samples keep the order in which the
sources first mention them. Missing images are counted and listed, not fatal; labels that fail the schema are
left out with their reason. Both go into the manifest along with label statistics and demographic balance.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from emozoo.data.schema import BadSample
from emozoo.data.shardwriter import ShardSetWriter, ShardSpec, plan_shards
from emozoo.emonet.columns import FIELDS, ColumnMap
from emozoo.emonet.labels import SOURCES
from emozoo.emonet.read import ImageFolder, ParquetImages, Table, as_shard_image, find_tables
from emozoo.emonet.scan import scan_tables
from emozoo.emonet.stats import ConvertStats
from emozoo.errors import DataError

__all__ = ["CONVERTER", "DEFAULT_SPLITS", "VERSION", "assign_split", "convert_emonet", "parse_splits"]

CONVERTER = "emonet-convert"
VERSION = "1.0.0"  # bump whenever the same inputs would give different shards
SPLITS = ("train", "val", "test")
# HQ is the paper's test set (a slice is kept for model selection); Binary and Big are training sets.
DEFAULT_SPLITS: dict[str, dict[str, float]] = {
    "hq": {"val": 0.2, "test": 0.8},
    "binary": {"train": 0.9, "val": 0.05, "test": 0.05},
    "big": {"train": 0.98, "val": 0.01, "test": 0.01},
}
_LIST_LIMIT = 1000  # keys listed in the manifest per problem kind (the counts are always complete)


def parse_splits(text: str | dict[str, float] | None, source: str) -> dict[str, float]:
    """``"train=0.9,val=0.05,test=0.05"`` (or a dict) as fractions in split order; None gives the default."""
    if text is None:
        return dict(DEFAULT_SPLITS[source])
    items = text.items() if isinstance(text, dict) else (p.split("=", 1) for p in text.split(",") if p.strip())
    fractions: dict[str, float] = {}
    for item in items:
        try:
            name, value = item
            fractions[name.strip()] = float(value)
        except ValueError:
            raise DataError(f"--splits {text!r}: expected NAME=FRACTION,..., e.g. train=0.9,val=0.1") from None
    unknown = [n for n in fractions if n not in SPLITS]
    if unknown or any(v < 0 for v in fractions.values()) or abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise DataError(f"--splits {text!r}: splits must be among {', '.join(SPLITS)}, >= 0 and sum to 1")
    return {n: fractions[n] for n in SPLITS if fractions.get(n, 0) > 0}


def assign_split(key: str, fractions: dict[str, float], salt: str = "") -> str:
    """The split of ``key``: ``sha1(salt + key)`` as a number in [0, 1), cut at the cumulative fractions."""
    u = int.from_bytes(hashlib.sha1(f"{salt}{key}".encode()).digest()[:8], "big") / 2**64
    acc = 0.0
    for name, fraction in fractions.items():
        acc += fraction
        if u < acc:
            return name
    return list(fractions)[-1]


def _fingerprint(paths: list[Path]) -> list[dict[str, Any]]:
    return [{"file": p.name, "bytes": p.stat().st_size} for p in paths]


def convert_emonet(
    source: str,
    inputs: list[str | Path],
    out_dir: str | Path,
    *,
    images: str | Path | None = None,
    columns: ColumnMap | None = None,
    splits: str | dict[str, float] | None = None,
    salt: str = "",
    shard_size: int = 1000,
    progress: bool = True,
) -> dict:
    """Convert one EmoNet-Face source to a shard set; returns its manifest (see the module docstring).

    Args:
        source: ``hq``, ``binary`` or ``big``.
        inputs: table files or directories holding them (``.parquet``, ``.csv``, ``.tsv``).
        out_dir: the shard set's directory.
        images: the folder holding the images that the tables name by path; None when the images are embedded
            in parquet or the paths are absolute or relative to the table.
        columns: the column mapping (default: ``ColumnMap()``); fields changed from the default must exist.
        splits: split fractions, e.g. ``"train=0.9,val=0.05,test=0.05"``; None: ``DEFAULT_SPLITS[source]``.
        salt: mixed into the split hash (a different salt gives a different split of the same images).
        shard_size: samples per shard. A split's pending shard is held in memory while it fills, so lower this
            for very large images.
        progress: show progress bars.

    Raises:
        DataError: unknown source, unreadable inputs, missing columns (the message lists the columns present),
            no usable image at all, or an output directory holding shards made differently.
    """
    if source not in SOURCES:
        raise DataError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    fractions = parse_splits(splits, source)
    paths = find_tables(list(inputs))
    folder = ImageFolder(images) if images is not None else None
    columns = columns or ColumnMap()
    pinned = {f for f in FIELDS if getattr(columns, f) and getattr(columns, f) != getattr(ColumnMap(), f)}
    scan = scan_tables(paths, source, columns, folder, pinned, progress)
    generator = {
        "name": CONVERTER,
        "version": VERSION,
        "params": {
            "source": source,
            "inputs": _fingerprint(paths),
            "images": None if folder is None else {"folder": folder.root.name, "files": len(folder)},
            "columns": scan.columns,
            "splits": fractions,
            "salt": salt,
            "shard_size": shard_size,
        },
    }
    entries: dict[str, list[tuple[str, dict, tuple]]] = {name: [] for name in fractions}
    missing, invalid, reasons = [], [], Counter()
    stats = ConvertStats()
    for raw, record in scan.records.items():
        ref = scan.images.get(raw)
        if ref is None:
            missing.append(scan.image_names.get(raw, raw))
            continue
        try:
            meta = record.meta(source)
        except BadSample as err:
            invalid.append(record.key)
            reasons[str(err)[:120]] += 1
            continue
        split = assign_split(record.key, fractions, salt)
        entries[split].append((record.key, meta, ref))
        stats.add(split, meta)
    usable = sum(len(v) for v in entries.values())
    if usable == 0:
        where = f"under {folder.root}" if folder is not None else "in the tables or beside them"
        hint = " (pass the image folder with --images)" if missing and folder is None else ""
        first = f"; first missing: {missing[0]!r}" if missing else ""
        bad = f"; first invalid label: {reasons.most_common(1)[0][0]}" if reasons else ""
        raise DataError(f"no usable sample: {len(missing)} images not found {where}{hint}{first}{bad}")
    specs = [spec for name, items in entries.items() for spec in plan_shards(name, len(items), shard_size)]
    writer = ShardSetWriter(out_dir, generator)
    undecodable = _write(writer, specs, entries, paths, scan, source, progress)
    manifest = writer.finish(
        specs,
        name=SOURCES[source],
        source=SOURCES[source],
        converter={"name": CONVERTER, "version": VERSION},
        inputs=[str(p) for p in paths],
        rows=scan.rows,
        images=usable,
        raters=stats.raters(),
        label_stats=stats.summary(),
        missing_images={"count": len(missing), "images": missing[:_LIST_LIMIT]},
        invalid_labels={"count": len(invalid), "reasons": dict(reasons.most_common(20)), "keys": invalid[:_LIST_LIMIT]},
        skipped_rows=dict(scan.skipped),
        undecodable_images={
            "count": len(undecodable),
            "keys": undecodable[:_LIST_LIMIT],
            "note": "kept in the shards (the pipeline skips and counts them); this run's shards only",
        },
    )
    return manifest


def _write(writer, specs, entries, paths, scan, source, progress) -> list[str]:
    """Write the pending shards, reading each image once; returns the keys of undecodable images."""
    pending = {spec.file: spec for spec in specs if not writer.done(spec)}
    spec_of: dict[tuple[str, int], ShardSpec] = {}
    for spec in pending.values():
        spec_of.update({(spec.split, i): spec for i in range(spec.start, spec.stop)})
    # Embedded images are visited in (table, row) order, so each parquet row group is read once; images in a
    # folder split by split, so at most one shard per split waits in memory.
    order = sorted(
        (ref[1:] if ref[0] == "row" else (-1, SPLITS.index(split), i), split, i)
        for split, items in entries.items()
        for i, (_, _, ref) in enumerate(items)
        if (split, i) in spec_of
    )
    tables = [Table(p) if p.suffix.lower() == ".parquet" else None for p in paths]
    reader = ParquetImages(tables, [c["columns"].get("image") for c in scan.columns])
    buffers: dict[str, dict[int, dict]] = {}
    undecodable: list[str] = []
    with tqdm(total=len(order), desc=SOURCES[source], unit="img", disable=not progress, dynamic_ncols=True) as bar:
        for _, split, i in order:
            key, meta, ref = entries[split][i]
            data = reader.get(ref[1], ref[2]) if ref[0] == "row" else Path(ref[1]).read_bytes()
            if not data:
                raise DataError(f"{scan.image_names.get(key, key)}: image vanished or empty since the label pass")
            image = as_shard_image(data)
            if image is None:
                undecodable.append(key)
                image = ("jpg", data)
            spec = spec_of[(split, i)]
            buffer = buffers.setdefault(spec.file, {})
            buffer[i] = {"__key__": key, image[0]: image[1], "json": meta}
            if len(buffer) == spec.count:
                writer.write(spec, [buffer[j] for j in range(spec.start, spec.stop)])
                del buffers[spec.file]
            bar.update(1)
    return undecodable
