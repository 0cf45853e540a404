"""The check pass of the EmoNet-Face converters: every image is read and decoded before any shard is planned.

A table from someone else may name a text file, a truncated JPEG or a decompression bomb. Each such image is a bad
sample: counted, listed by the path the table gave (``undecodable_images`` / ``refused_images`` in the manifest)
and left out, never written into a shard. Checking before planning keeps the plan a function of the inputs, so an
interrupted conversion resumes to the same bytes. The write pass then reads each image again and must find the
bytes it checked (``digest``); a file changed in between stops the run with a message to run it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from emozoo.emonet.confine import RefusedFile, read_confined
from emozoo.emonet.read import ParquetImages, Table, as_shard_image
from emozoo.images import ImageError

__all__ = ["Checked", "ImageReader", "check_images", "digest"]


def digest(data: bytes) -> bytes:
    """What the write pass compares to make sure it writes the bytes that were checked."""
    return hashlib.blake2b(data, digest_size=16).digest()


class ImageReader:
    """The bytes behind a scan's image references: parquet rows through a row-group cache, files below their root."""

    def __init__(self, paths: list[Path], image_columns: list[str | None]) -> None:
        tables = [Table(p) if p.suffix.lower() == ".parquet" else None for p in paths]
        self._parquet = ParquetImages(tables, image_columns)

    def get(self, ref: tuple) -> bytes | None:
        """``("row", table, row)`` or ``("file", path, root)``; ``RefusedFile`` or ``OSError`` for a file."""
        if ref[0] == "row":
            return self._parquet.get(ref[1], ref[2])
        return read_confined(ref[1], ref[2])


def read_order(ref: tuple, index: int) -> tuple:
    """Sort key that visits embedded images in (table, row) order, so each parquet row group is read once."""
    return (ref[1], ref[2]) if ref[0] == "row" else (-1, index)


@dataclass
class Checked:
    """The check pass's result: the digest of every good image by key, and the bad ones by the table's path."""

    digests: dict[str, bytes] = field(default_factory=dict)
    refused: list[dict[str, str]] = field(default_factory=list)
    undecodable: list[dict[str, str]] = field(default_factory=list)


def check_images(
    items: list[tuple[str, str, tuple]], reader: ImageReader, max_pixels: int, progress: bool, desc: str = "check"
) -> Checked:
    """Read and decode each ``(key, name, ref)``; ``name`` is what reports call the image (its path in the table)."""
    checked = Checked()
    order = sorted(range(len(items)), key=lambda i: read_order(items[i][2], i))
    with tqdm(total=len(order), desc=desc, unit="img", disable=not progress, dynamic_ncols=True) as bar:
        for i in order:
            key, name, ref = items[i]
            try:
                data = reader.get(ref)
                if not data:
                    raise ImageError(f"{name}: an empty file")
                as_shard_image(data, max_pixels=max_pixels, name=name)
            except RefusedFile as err:
                checked.refused.append({"image": name, "reason": str(err)})
            except ImageError as err:  # its message starts with the name, which the report gives apart
                checked.undecodable.append({"image": name, "reason": str(err).removeprefix(f"{name}: ")})
            except OSError as err:  # unreadable (permissions) or gone since the label pass
                checked.undecodable.append({"image": name, "reason": f"unreadable ({err.strerror or err})"})
            else:
                checked.digests[key] = digest(data)
            bar.update(1)
    return checked
