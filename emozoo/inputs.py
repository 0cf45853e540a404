"""Input discovery: files, folders and globs to the images, videos and shard tars to score, each once.

Folder walks and ``**`` globs follow symlinks to folders (a dataset is often a tree of links) but never enter a
folder twice, so a symlink loop ends the walk instead of repeating it, and a file reached by several paths (links,
overlapping patterns) is listed once, under the first path that reached it. Python's ``glob(recursive=True)`` and
``Path.rglob`` before 3.13 do neither: one loop listed each image 41 times, two loops never finished.

The order is stable: inputs in the order given, and within a folder or glob, paths sorted by name (depth first,
which is the order of ``sorted(paths)``). Hidden files and folders (a leading ``.``) are skipped in walks and
wildcards, as ``glob`` does; a file named explicitly is always taken.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from emozoo.errors import DataError

__all__ = ["IMAGE_EXTS", "SHARD_EXTS", "VIDEO_EXTS", "FoundInputs", "expand_inputs", "find_inputs", "input_kind"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".avif", ".mpo")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi")
SHARD_EXTS = (".tar",)
Kind = Literal["image", "video", "shard"]


@dataclass
class FoundInputs:
    """What ``find_inputs`` found, by kind, each in a stable order, plus the folders it could not read."""

    images: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    shards: list[Path] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "<folder>: <reason>", reported by the caller

    def add(self, path: Path, kind: Kind) -> None:
        {"image": self.images, "video": self.videos, "shard": self.shards}[kind].append(path)


def input_kind(path: str | Path) -> Kind | None:
    """``image``, ``video`` or ``shard`` by the file's extension (case-insensitive); None for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTS:
        return "image"
    if suffix in VIDEO_EXTS:
        return "video"
    return "shard" if suffix in SHARD_EXTS else None


class _Walker:
    """Lists files under folders and glob patterns, entering each real folder once per pattern position.

    Walks are iterative (a stack of sorted listings), so a deep tree cannot exhaust Python's recursion limit.
    """

    def __init__(self, recursive: bool, unreadable: list[str]):
        self.recursive, self.unreadable = recursive, unreadable
        self.seen_dirs: set[tuple[int, int, int]] = set()

    def _enter(self, directory: str, position: int) -> bool:
        """True the first time the real folder ``directory`` is reached with ``position`` pattern parts left."""
        try:
            st = os.stat(directory or os.curdir)
        except OSError as err:
            self.unreadable.append(f"{directory}: {type(err).__name__}")
            return False
        key = (st.st_dev, st.st_ino, position)
        if key in self.seen_dirs:
            return False
        self.seen_dirs.add(key)
        return True

    def _entries(self, directory: str, hidden: bool = False) -> Iterator[tuple[str, os.DirEntry]]:
        """``(path, entry)`` for the folder's entries, sorted by name; hidden ones only if ``hidden``."""
        try:
            with os.scandir(directory or os.curdir) as it:
                entries = sorted((e for e in it if hidden or not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as err:  # a folder we may not list is reported, not fatal
            self.unreadable.append(f"{directory}: {type(err).__name__}: {err.strerror or err}")
            return iter(())
        return ((os.path.join(directory, e.name), e) for e in entries)

    def _tree(self, top: str, position: int, files: bool) -> Iterator[str]:
        """Depth first and sorted: the files below ``top`` if ``files``, else ``top`` and the folders below it."""
        if _is_loop(top) or not self._enter(top, position):
            return
        if not files:
            yield top
        stack = [self._entries(top)]
        while stack:
            path, entry = next(stack[-1], (None, None))
            if entry is None:
                stack.pop()
            elif _is_dir(entry):
                if (self.recursive or not files) and not _is_loop(path, entry) and self._enter(path, position):
                    if not files:
                        yield path
                    stack.append(self._entries(path))
            elif files and _is_file(entry):
                yield path

    def walk(self, directory: str) -> Iterator[str]:
        """Every regular file below ``directory`` (through symlinks, each real folder once), sorted."""
        return self._tree(directory, -1, files=True)

    def match(self, base: str, parts: Sequence[str]) -> Iterator[str]:
        """Paths under ``base`` that match the pattern ``parts`` (one path component each, ``**`` any depth)."""
        if not parts:
            yield base
            return
        head, rest = parts[0], parts[1:]
        if head == "**" and self.recursive:
            for directory in self._tree(base, len(parts), files=False):
                yield from self.match(directory, rest)
        elif glob.has_magic(head):
            pattern = "*" if head == "**" else head
            for path, entry in self._entries(base, hidden=pattern.startswith(".")):
                if (
                    fnmatch.fnmatchcase(entry.name, pattern)
                    and (not rest or _is_dir(entry))
                    and not _is_loop(path, entry)
                ):
                    yield from self.match(path, rest)
        elif os.path.lexists(os.path.join(base, head)):
            yield from self.match(os.path.join(base, head), rest)


def _is_loop(path: str, entry: os.DirEntry | None = None) -> bool:
    """True for a symlink to the folder that holds it or to one above it: following it would only repeat."""
    try:
        if not (entry.is_symlink() if entry is not None else os.path.islink(path)):
            return False
    except OSError:
        return False
    target, parent = os.path.realpath(path), os.path.realpath(os.path.dirname(path) or os.curdir)
    return parent == target or parent.startswith(target.rstrip(os.sep) + os.sep)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks: loops are cut by _Walker._enter
    except OSError:
        return False


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _split_pattern(pattern: str) -> tuple[str, list[str]]:
    """The pattern's literal leading folder and the components after it (``a/b/*/c`` -> ``a/b``, ``[*, c]``)."""
    drive_root = os.sep if pattern.startswith(os.sep) else ""
    parts = [p for p in pattern.split(os.sep) if p not in ("", ".")]
    i = 0
    while i < len(parts) and not glob.has_magic(parts[i]):
        i += 1
    return drive_root + os.sep.join(parts[:i]), parts[i:]


def find_inputs(patterns: Sequence[str], *, recursive: bool = True) -> FoundInputs:
    """Files, folders and globs to the images, videos and shard tars they hold, each file once.

    A folder contributes its images, videos and ``.tar`` shards (recursively unless ``recursive=False``); a glob
    contributes the files it matches and the contents of the folders it matches. A file named explicitly is
    taken whatever its extension, as an image unless its extension says video or shard, so that an unreadable
    file is reported rather than silently ignored.

    Raises:
        DataError: an input matches nothing, is not a regular file or folder, or nothing usable is found at all.
    """
    found = FoundInputs()
    walker = _Walker(recursive, found.unreadable)
    seen_files: set[tuple[int, int]] = set()

    def take(path: str, explicit: bool) -> None:
        kind = input_kind(path) or ("image" if explicit else None)
        if kind is None:
            return
        try:
            st = os.stat(path)
        except OSError as err:
            found.unreadable.append(f"{path}: {type(err).__name__}")
            return
        if (st.st_dev, st.st_ino) not in seen_files:  # the same file by another path or pattern: scored once
            seen_files.add((st.st_dev, st.st_ino))
            found.add(Path(path), kind)

    for item in patterns:
        path = os.path.expanduser(item)
        if os.path.isdir(path):
            for f in walker.walk(path):
                take(f, explicit=False)
        elif os.path.exists(path):
            if not os.path.isfile(path):
                raise DataError(f"input {item} is not a regular file or folder; give image or video files")
            take(path, explicit=True)
        elif glob.has_magic(path):
            base, parts = _split_pattern(path)
            matched = False
            for hit in walker.match(base, parts):
                matched = True
                if os.path.isdir(hit):
                    for f in walker.walk(hit):
                        take(f, explicit=False)
                elif os.path.isfile(hit):
                    take(hit, explicit=False)
            if not matched:
                raise DataError(f"input not found: {item} matches nothing (check the pattern; quote it in a shell)")
        else:
            raise DataError(f"input not found: {item} (give image or video files, folders, globs or .tar shards)")
    if not (found.images or found.videos or found.shards):
        exts = ", ".join(IMAGE_EXTS + VIDEO_EXTS + SHARD_EXTS)
        raise DataError(f"no images, videos or shards ({exts}) in {', '.join(patterns)}")
    return found


def expand_inputs(patterns: Sequence[str], *, recursive: bool = True) -> list[Path]:
    """Every file ``find_inputs`` finds (images, then videos, then shards), each once, in a stable order."""
    found = find_inputs(patterns, recursive=recursive)
    return [*found.images, *found.videos, *found.shards]
