"""The image root: files that a table names are read only below it, and only if they are regular files.

Tables come from other people. A row naming ``/proc/self/environ``, ``../../.ssh/id_ed25519`` or a symlink to
either must not end up in shards that the user then publishes. ``confine`` refuses a path that leaves the root
(absolute, ``..``, or through a symlink); ``read_confined`` then opens the checked path from the root down, one
component at a time with ``O_NOFOLLOW``, so a symlink swapped in after the check cannot lead out either. Only
regular files are read: a FIFO would block, and ``/dev/zero`` never ends.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from emozoo.errors import DataError

__all__ = ["RefusedFile", "confine", "read_confined"]


class RefusedFile(DataError):
    """A file a table names that may not be read: outside the image root, or not a regular file."""


def confine(path: str | Path, root: Path) -> Path:
    """``path`` (absolute, or relative to ``root``) with every symlink resolved, if it lies below ``root``.

    ``root`` must be resolved already (``Path.resolve()``).

    Raises:
        RefusedFile: the path, or a symlink on it, leads out of ``root``.
        OSError: the path does not exist.
    """
    lexical = Path(os.path.abspath(os.path.join(root, path)))  # an absolute ``path`` replaces ``root``
    if not lexical.is_relative_to(os.path.abspath(root)):
        raise RefusedFile(f"outside the image root {root}")
    try:
        real = lexical.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a symlink loop so
        raise OSError(errno.ELOOP, "symlink loop", str(lexical)) from None
    if not real.is_relative_to(root):
        raise RefusedFile(f"a symlink that leads out of the image root {root}")
    return real


def read_confined(path: str | Path, root: Path | None) -> bytes:
    """The bytes of the regular file ``path``, which must lie below ``root`` (a resolved folder; None: anywhere).

    The path is checked with ``confine`` and then opened from ``root`` down, one component at a time with
    ``O_NOFOLLOW``: a directory replaced by a symlink between the check and the open fails the open.

    Raises:
        RefusedFile: the path leaves ``root``, a symlink appeared on it, or it is not a regular file.
        OSError: the file is missing or unreadable.
    """
    nonblock = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
    if root is None:
        fd = os.open(path, os.O_RDONLY | nonblock)
    else:
        parts = confine(path, root).relative_to(root).parts
        try:
            fd = _open_below(root, parts, nonblock)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise RefusedFile(f"a symlink appeared on the path below the image root {root}") from None
            raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise RefusedFile("not a regular file")
        return f.read()


def _open_below(root: Path, parts: tuple[str, ...], flags: int) -> int:
    """``root/parts`` opened for reading through directory descriptors, following no symlink below ``root``."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if not parts or not nofollow or os.open not in os.supports_dir_fd:  # no openat (Windows): the checked path
        return os.open(root.joinpath(*parts), os.O_RDONLY | flags)
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], os.O_RDONLY | nofollow | flags, dir_fd=fd)
    finally:
        os.close(fd)
