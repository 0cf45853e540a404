"""``hf-hub:org/name`` resolution through the local Hugging Face cache, downloading only when allowed.

The one hub lookup of emozoo: backbone weights (one file, ``resolve_hub_file``), a transformers folder
(``resolve_hub_dir``) and the zoo's checkpoint folders (``snapshot_dir``: every required file from one snapshot)
all resolve here, and ``missing_files`` answers "is it cached?" without a network.

The cache location and offline flag are read from the environment at call time (``HF_HUB_CACHE``, ``HF_HOME``,
``HF_HUB_OFFLINE``): ``huggingface_hub`` reads them once at import, which would ignore a cache set up later in the
same process (tests, notebooks). With ``HF_HUB_OFFLINE=1`` nothing is ever downloaded; a miss raises a
``WeightsError`` that names the repo, the files, the cache searched and the command that fetches them.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from emozoo.errors import WeightsError

__all__ = [
    "cached_file",
    "download_command",
    "hf_cache_dir",
    "hf_offline",
    "missing_files",
    "parse_hub_id",
    "resolve_hub_dir",
    "resolve_hub_file",
    "snapshot_dir",
]

_TRUE = {"1", "ON", "YES", "TRUE"}


def hf_cache_dir() -> Path:
    """The hub cache ``huggingface_hub`` would use, resolved from the environment now."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def hf_offline() -> bool:
    """True when downloads are forbidden (``HF_HUB_OFFLINE`` now, or as ``huggingface_hub`` read it at import)."""
    if os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return True
    return bool(constants.HF_HUB_OFFLINE)


def parse_hub_id(source: str) -> tuple[str, str | None]:
    """``hf-hub:org/name[@revision]`` to (repo id, revision)."""
    ident = source.removeprefix("hf-hub:").strip("/")
    repo, _, rev = ident.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise WeightsError(f"{source!r} is not a Hugging Face repo id; expected hf-hub:org/name")
    return repo, rev or None


def download_command(repo: str, files: list[str]) -> str:
    return f"hf download {repo} {' '.join(files)}".strip()


def _missing(repo: str, files: list[str], why: str, also: list[str] | tuple[str, ...] = ()) -> WeightsError:
    """The error for files of ``repo`` that are not here; ``also`` names acceptable alternatives to them."""
    cache = hf_cache_dir()
    shown = ", ".join(files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
    cmd = download_command(repo, files if len(files) <= 4 else [])
    alternatives = f"; {', '.join(also)} would do as well" if also else ""
    return WeightsError(
        f"hf-hub:{repo}: {shown}{alternatives} not found in the Hugging Face cache {cache}: {why}. "
        f"On a connected machine run `HF_HUB_CACHE={cache} {cmd}` (older huggingface_hub: `huggingface-cli "
        f"download ...`), or copy its {cache / ('models--' + repo.replace('/', '--'))} folder here."
    )


def cached_file(repo: str, filename: str, revision: str | None) -> Path | None:
    """``filename`` of ``repo`` in the cache, or None (never downloads)."""
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(repo, filename, cache_dir=hf_cache_dir(), revision=revision)
    return Path(path) if isinstance(path, str) else None


def _download(repo: str, filename: str, revision: str | None) -> Path | None:
    """Download one file; None when the repo has no such file. Network errors become a ``WeightsError``."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo, filename, revision=revision, cache_dir=hf_cache_dir()))
    except EntryNotFoundError as err:
        if isinstance(err, LocalEntryNotFoundError):  # not cached and no connection
            raise _missing(repo, [filename], "it could not be downloaded (no connection?)") from err
        return None
    except Exception as err:  # offline, gated, unknown repo: say what to do instead
        raise _missing(repo, [filename], f"the download failed ({type(err).__name__}: {err})") from err


def resolve_hub_file(source: str, candidates: list[str]) -> Path:
    """The first of ``candidates`` (in order of preference) that the repo has, from the cache or downloaded."""
    repo, rev = parse_hub_id(source)
    for name in candidates:
        if (path := cached_file(repo, name, rev)) is not None:
            return path
    if hf_offline():
        raise _missing(repo, candidates[:1], "HF_HUB_OFFLINE is set, so nothing is downloaded", candidates[1:])
    for name in candidates:
        if (path := _download(repo, name, rev)) is not None:
            return path
    raise _missing(repo, candidates, "the repo has none of these files")


def missing_files(source: str, groups: Sequence[Sequence[str]]) -> list[str]:
    """For each group of alternative names with none cached, its first name (never downloads)."""
    repo, rev = parse_hub_id(source)
    return [g[0] for g in groups if not any(cached_file(repo, n, rev) for n in g)]


def snapshot_dir(source: str, groups: Sequence[Sequence[str]], optional: Sequence[str] = ()) -> Path:
    """The snapshot folder holding one file of each group of alternative names (the first is preferred).

    Checkpoints are folders of several files (a transformers ``config.json`` beside its weights, our
    ``config.json`` + ``model.safetensors``, Empathic-Insight's 40 head files), so every group must be found in one
    snapshot. Missing files are downloaded unless ``HF_HUB_OFFLINE`` is set; ``optional`` files are fetched when
    the repo has them and downloads are allowed.

    Raises:
        WeightsError: files are missing offline (all are named, with the fetch command), or the download failed.
    """
    repo, rev = parse_hub_id(source)
    missing = missing_files(source, groups)
    if missing and hf_offline():
        raise _missing(repo, missing, "HF_HUB_OFFLINE is set, so nothing is downloaded")
    for group in groups:
        if not any(cached_file(repo, n, rev) for n in group):
            resolve_hub_file(source, list(group))
    if not hf_offline():
        for name in optional:
            if cached_file(repo, name, rev) is None:
                with contextlib.suppress(WeightsError):  # optional: fine when the repo has no such file
                    _download(repo, name, rev)
    folder = next(p for n in groups[0] if (p := cached_file(repo, n, rev)) is not None).parent
    stray = [g[0] for g in groups if not any((folder / n).is_file() for n in g)]
    if stray:  # files of one checkpoint must come from one revision
        raise WeightsError(
            f"{source}: the cached snapshot {folder} lacks {', '.join(stray[:3])} (they are cached under another "
            f"revision). Fetch one revision completely: `{download_command(repo, [])}`."
        )
    return folder


def resolve_hub_dir(source: str, required: list[str], weights: list[str], optional: tuple[str, ...] = ()) -> Path:
    """The snapshot folder with all ``required`` files and the first of ``weights`` the repo has (with its
    shards when that is a ``*.index.json``), plus whichever ``optional`` files exist."""
    repo, rev = parse_hub_id(source)
    folder = snapshot_dir(source, [(n,) for n in required] + [tuple(weights)], optional)
    found = next(w for w in weights if (folder / w).is_file())
    if found.endswith(".index.json"):  # sharded: fetch the shards the index names
        index = json.loads((folder / found).read_text())
        shards = sorted(set(index.get("weight_map", {}).values()))
        snapshot_dir(source, [(s,) for s in shards] or [(found,)])
    return folder
