"""The image root: files that a table names are read only below it, and only if they are regular files.

Tables come from other people. A row naming ``/proc/self/environ``, ``../../.ssh/id_ed25519`` or a symlink to
either must not end up in shards that the user then publishes. ``confine`` refuses a path that leaves the root
(absolute, ``..``, or through a symlink); ``read_confined`` then opens the checked path from the root down, one
component at a time with ``O_NOFOLLOW``, so a symlink swapped in after the check cannot lead out either. Only
regular files are read: a FIFO would block, and ``/dev/zero`` never ends. Below a root, a file with more than one
hard link is refused too: its other name may lie anywhere on the same file system (``/etc/shadow`` hard-linked into
a folder that was unpacked from someone's archive), and nothing in the file says where. Every file is read only up
to ``max_file_bytes()`` (``EMOZOO_MAX_FILE_BYTES``, default 256 MiB): an image of the 40-megapixel cap fits well
within it, and a table naming a huge file must not fill the memory before the image decoder sees a byte.
"""

from __future__ import annotations

import errno
import os
import stat

from emozoo.errors import DataError

__all__ = ["RefusedFile", "confine", "max_file_bytes", "read_confined"]

DEFAULT_MAX_FILE_BYTES = 256 * 2**20


def max_file_bytes() -> int:
    """The largest file ``read_confined`` reads: ``EMOZOO_MAX_FILE_BYTES`` if set, else 256 MiB.

    Raises:
        DataError: the variable is set to something other than a positive integer.
    """
    raw = os.environ.get("EMOZOO_MAX_FILE_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_FILE_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise DataError(f"EMOZOO_MAX_FILE_BYTES={raw!r}: expected a positive number of bytes, e.g. 268435456")
    return value


class RefusedFile(DataError):
    """A file a table names that may not be read: outside the image root, or not a regular file."""


def confine(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """``path`` (absolute, or relative to ``root``) with every symlink resolved, if it lies below ``root``.

    This is ``Path.resolve(strict=True)`` and ``is_relative_to`` on strings (``os.path.realpath`` is what
    ``resolve`` runs; a ``Path`` per image cost more than the check itself). ``root`` must be resolved already.

    Raises:
        RefusedFile: the path, or a symlink on it, leads out of ``root``.
        OSError: the path does not exist, or holds a symlink loop.
    """
    root = os.fspath(root)
    lexical = os.path.abspath(os.path.join(root, path))  # an absolute ``path`` replaces ``root``
    if not _inside(lexical, root):
        raise RefusedFile(f"outside the image root {root}")
    real = os.path.realpath(lexical, strict=True)
    if not _inside(real, root):
        raise RefusedFile(f"a symlink that leads out of the image root {root}")
    return real


def read_confined(path: str | os.PathLike, root: str | os.PathLike | None) -> bytes:
    """The bytes of the regular file ``path``, which must lie below ``root`` (resolved; None: anywhere).

    The file is opened from ``root`` down, one component at a time with ``O_NOFOLLOW``, so no symlink is followed,
    even one swapped in after a check. A path with a symlink on it (legitimately inside the root) or a ``..`` is
    first resolved with ``confine`` and opened the same way. Without ``openat`` (Windows) the path that
    ``confine`` checked is opened.

    Raises:
        RefusedFile: the path leaves ``root``, a symlink appeared on it, it is not a regular file, it has more than
            one hard link (only below a ``root``), or it is larger than ``max_file_bytes()``.
        OSError: the file is missing or unreadable.
    """
    cap = max_file_bytes()
    if root is None:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    elif not _OPENAT:
        fd = os.open(confine(path, root), os.O_RDONLY | _NONBLOCK)
    else:
        root = os.fspath(root)
        try:
            if ".." in os.fspath(path).split(os.sep):
                raise OSError(errno.ELOOP, "resolve first")
            fd = _open_below(root, _parts(path, root))
        except OSError as err:
            if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            try:
                fd = _open_below(root, _parts(confine(path, root), root))
            except OSError as again:
                if again.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise RefusedFile(f"a symlink appeared on the path below the image root {root}") from None
                raise
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise RefusedFile("not a regular file")
        if root is not None and info.st_nlink > 1:
            raise RefusedFile(
                f"a hard link ({info.st_nlink} names): its other name may lie outside the image root; copy the file, "
                f"or pass --allow-outside-root if you trust the folder"
            )
        data = f.read(cap + 1)  # at most one byte past the cap, even if the file grew after fstat
        if len(data) > cap:
            raise RefusedFile(f"larger than {cap} bytes (EMOZOO_MAX_FILE_BYTES)")
        return data


_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPENAT = bool(_NOFOLLOW) and os.open in os.supports_dir_fd


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def _parts(path: str | os.PathLike, root: str) -> list[str]:
    """The components of ``path`` below ``root``, lexically; ``RefusedFile`` if it is not below."""
    lexical = os.path.abspath(os.path.join(root, path))
    if not _inside(lexical, root):
        raise RefusedFile(f"outside the image root {root}")
    rel = lexical[len(root) :].strip(os.sep)
    return rel.split(os.sep) if rel else []


def _open_below(root: str, parts: list[str]) -> int:
    """``root/parts`` opened for reading through directory descriptors, following no symlink below ``root``."""
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    if not parts:
        return fd  # the root itself: not a regular file, which the caller refuses
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
