"""EmoNet-Face sources to WebDataset shards: ``emozoo shards convert {hq,binary,big} INPUT ... --out DIR``.

Reads the Hugging Face releases ``laion/emonet-face-{hq,binary,big}`` from a local directory (parquet, images
embedded as bytes or HF ``Image`` structs, or as paths) and the authors' annotation tables (the long
``binary.csv``, HQ ratings with one row per image and rater) together with an image folder. Column names go
through ``ColumnMap`` (``emonet.columns``); rows become one label record per image (``emonet.labels``,
``emonet.scan``), in the sample schema of docs/architecture.md §5, checked with ``schema.validate_labels``.

Images named by path are read only below the image root (``images``, else the table's own folder); absolute
paths, ``..`` and symlinks that leave it are refused unless ``allow_outside_root``. Every image must decode
(``emonet.verify``, under the pixel cap) before it is planned into a shard; JPEG, PNG and WebP keep their bytes.

Output: ``{split}-%06d.tar`` shards and ``manifest.json`` in ``--out``, written by ``ShardSetWriter`` (atomic,
resumable: a killed run started again skips the shards already written and gives the same bytes). Each image's
split is a pure function of its key: ``sha1(salt + key)`` mapped to [0, 1) and cut at the split fractions, so it
never changes when other images are added or removed. Within a split, samples keep the order in which the
sources first mention them. Missing images are counted and listed, not fatal; labels that fail the schema are
left out with their reason; refused and undecodable images are left out and listed by path. All go into the
manifest along with label statistics and demographic balance.
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
from emozoo.emonet.confine import RefusedFile
from emozoo.emonet.labels import SOURCES
from emozoo.emonet.read import ImageFolder, as_shard_image, find_tables, image_bytes_format
from emozoo.emonet.scan import scan_tables
from emozoo.emonet.stats import ConvertStats
from emozoo.emonet.verify import Checked, ImageReader, check_images, digest, read_order
from emozoo.errors import DataError
from emozoo.images import default_max_pixels

__all__ = ["CONVERTER", "DEFAULT_SPLITS", "VERSION", "assign_split", "convert_emonet", "parse_splits"]

CONVERTER = "emonet-convert"
VERSION = "1.1.0"  # bump whenever the same inputs would give different shards
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
    allow_outside_root: bool = False,
    max_pixels: int | None = None,
    progress: bool = True,
) -> dict:
    """Convert one EmoNet-Face source to a shard set; returns its manifest (see the module docstring).

    Args:
        source: ``hq``, ``binary`` or ``big``.
        inputs: table files or directories holding them (``.parquet``, ``.csv``, ``.tsv``).
        out_dir: the shard set's directory.
        images: the image root: the folder holding the images that the tables name by path. None: the images
            are embedded in parquet, or lie below each table's own folder.
        columns: the column mapping (default: ``ColumnMap()``); fields changed from the default must exist.
        splits: split fractions, e.g. ``"train=0.9,val=0.05,test=0.05"``; None: ``DEFAULT_SPLITS[source]``.
        salt: mixed into the split hash (a different salt gives a different split of the same images).
        shard_size: samples per shard. A split's pending shard is held in memory while it fills, so lower this
            for very large images.
        allow_outside_root: read the files a table names wherever they are (absolute paths, ``..``, symlinks
            leading out, paths relative to the working folder). Only for tables you trust: a table can name any
            file the user can read, and a file that decodes as an image would be published in the shards.
        max_pixels: images with more pixels are left out as undecodable; default ``emozoo.images``' cap.
        progress: show progress bars.

    Raises:
        DataError: unknown source, unreadable inputs, missing columns (the message lists the columns present),
            no usable image at all, a file changed during the run, or an output directory holding shards made
            differently.
    """
    if source not in SOURCES:
        raise DataError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    fractions = parse_splits(splits, source)
    cap = default_max_pixels() if max_pixels is None else int(max_pixels)
    if cap < 1:
        raise DataError(f"max_pixels (--max-pixels) must be a positive number of pixels, got {max_pixels}")
    paths = find_tables(list(inputs))
    folder = ImageFolder(images) if images is not None else None
    columns = columns or ColumnMap()
    pinned = {f for f in FIELDS if getattr(columns, f) and getattr(columns, f) != getattr(ColumnMap(), f)}
    scan = scan_tables(paths, source, columns, folder, pinned, progress, allow_outside_root)
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
            "allow_outside_root": allow_outside_root,
            "max_pixels": cap,
        },
    }
    candidates, missing, invalid, reasons, refused = [], [], [], Counter(), []
    for raw, record in scan.records.items():
        ref, name = scan.images.get(raw), scan.image_names.get(raw, raw)
        if ref is None:
            missing.append(name)
            continue
        if ref[0] == "refused":
            refused.append({"image": name, "reason": ref[1]})
            continue
        try:
            meta = record.meta(source)
        except BadSample as err:
            invalid.append(record.key)
            reasons[str(err)[:120]] += 1
            continue
        candidates.append((record.key, name, meta, ref))
    if not candidates:
        raise DataError(_nothing_usable(missing, reasons, Checked(refused=refused), folder))
    writer = ShardSetWriter(out_dir, generator)  # refuses a folder of other shards before the long check pass
    reader = ImageReader(paths, [c["columns"].get("image") for c in scan.columns])
    checked = check_images([(k, n, ref) for k, n, _, ref in candidates], reader, cap, progress)
    checked.refused[:0] = refused
    entries: dict[str, list[tuple[str, str, dict, tuple]]] = {name: [] for name in fractions}
    stats = ConvertStats()
    for key, name, meta, ref in candidates:
        if key in checked.digests:
            split = assign_split(key, fractions, salt)
            entries[split].append((key, name, meta, ref))
            stats.add(split, meta)
    usable = sum(len(v) for v in entries.values())
    if usable == 0:
        raise DataError(_nothing_usable(missing, reasons, checked, folder))
    specs = [spec for name, items in entries.items() for spec in plan_shards(name, len(items), shard_size)]
    _write(writer, specs, entries, reader, checked, cap, source, progress)
    return writer.finish(
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
        refused_images={
            "count": len(checked.refused),
            "images": checked.refused[:_LIST_LIMIT],
            "note": "left out: outside the image root, or not a regular file (--allow-outside-root reads them)",
        },
        undecodable_images={
            "count": len(checked.undecodable),
            "images": checked.undecodable[:_LIST_LIMIT],
            "note": "left out: not an image that emozoo.images.load_image decodes under the pixel cap",
        },
    )


def _nothing_usable(missing: list[str], reasons: Counter, checked: Checked, folder: ImageFolder | None) -> str:
    where = f"under {folder.root}" if folder is not None else "beside the tables (or in them)"
    hint = " (pass the image folder with --images)" if missing and folder is None else ""
    parts = [f"no usable sample: {len(missing)} images not found {where}{hint}"]
    if missing:
        parts.append(f"first missing: {missing[0]!r}")
    if reasons:
        parts.append(f"first invalid label: {reasons.most_common(1)[0][0]}")
    if checked.refused:
        first = checked.refused[0]
        parts.append(
            f"{len(checked.refused)} refused (first: {first['image']!r}, {first['reason']}; --allow-outside-root "
            "reads files outside the image root, for tables you trust)"
        )
    if checked.undecodable:
        parts.append(f"{len(checked.undecodable)} undecodable (first: {checked.undecodable[0]['reason']})")
    return "; ".join(parts)


def _write(writer, specs, entries, reader, checked: Checked, cap: int, source: str, progress: bool) -> None:
    """Write the pending shards, reading each image once more and writing the very bytes that were checked."""
    pending = {spec.file: spec for spec in specs if not writer.done(spec)}
    spec_of: dict[tuple[str, int], ShardSpec] = {}
    for spec in pending.values():
        spec_of.update({(spec.split, i): spec for i in range(spec.start, spec.stop)})
    # Embedded images are visited in (table, row) order, so each parquet row group is read once; images in a
    # folder split by split, so at most one shard per split waits in memory.
    order = sorted(
        (read_order(ref, SPLITS.index(split) * 2**40 + i), split, i)
        for split, items in entries.items()
        for i, (_, _, _, ref) in enumerate(items)
        if (split, i) in spec_of
    )
    buffers: dict[str, dict[int, dict]] = {}
    with tqdm(total=len(order), desc=SOURCES[source], unit="img", disable=not progress, dynamic_ncols=True) as bar:
        for _, split, i in order:
            key, name, meta, ref = entries[split][i]
            try:
                data = reader.get(ref)
            except (RefusedFile, OSError):
                data = None
            if not data or digest(data) != checked.digests[key]:
                raise DataError(f"{name}: image changed or vanished since it was checked; run the command again")
            ext = image_bytes_format(data)
            image = (ext, data) if ext is not None else as_shard_image(data, max_pixels=cap, name=name)
            spec = spec_of[(split, i)]
            buffer = buffers.setdefault(spec.file, {})
            buffer[i] = {"__key__": key, image[0]: image[1], "json": meta}
            if len(buffer) == spec.count:
                writer.write(spec, [buffer[j] for j in range(spec.start, spec.stop)])
                del buffers[spec.file]
            bar.update(1)
