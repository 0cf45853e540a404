"""``hf-hub:org/name`` resolution through the local Hugging Face cache, downloading only when allowed.

The cache location and offline flag are read from the environment at call time (``HF_HUB_CACHE``, ``HF_HOME``,
``HF_HUB_OFFLINE``): ``huggingface_hub`` reads them once at import, which would ignore a cache set up later in the
same process (tests, notebooks). With ``HF_HUB_OFFLINE=1`` nothing is ever downloaded; a miss raises a
``WeightsError`` that names the repo, the files, the cache searched and the command that fetches them.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from emozoo.errors import WeightsError

__all__ = ["download_command", "hf_cache_dir", "hf_offline", "parse_hub_id", "resolve_hub_dir", "resolve_hub_file"]

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
    cmd = download_command(repo, files)
    alternatives = f"; {', '.join(also)} would do as well" if also else ""
    return WeightsError(
        f"weights hf-hub:{repo} ({', '.join(files)}{alternatives}) not found in the Hugging Face cache {cache}: "
        f"{why}. "
        f"On a connected machine run `HF_HUB_CACHE={cache} {cmd}` (older huggingface_hub: `huggingface-cli "
        f"download ...`), or copy its {cache / ('models--' + repo.replace('/', '--'))} folder here."
    )


def _cached(repo: str, filename: str, revision: str | None) -> Path | None:
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
        if (path := _cached(repo, name, rev)) is not None:
            return path
    if hf_offline():
        raise _missing(repo, candidates[:1], "HF_HUB_OFFLINE is set, so nothing is downloaded", candidates[1:])
    for name in candidates:
        if (path := _download(repo, name, rev)) is not None:
            return path
    raise _missing(repo, candidates, "the repo has none of these files")


def _fetch(repo: str, names: list[str], rev: str | None) -> list[Path]:
    """Each of ``names`` from the cache, downloading what is missing unless offline."""
    paths = [_cached(repo, n, rev) for n in names]
    missing = [n for n, p in zip(names, paths) if p is None]
    if missing and hf_offline():
        raise _missing(repo, missing, "HF_HUB_OFFLINE is set, so nothing is downloaded")
    for name in missing:
        if _download(repo, name, rev) is None:
            raise _missing(repo, [name], "the repo has no such file")
    return [_cached(repo, n, rev) for n in names]


def resolve_hub_dir(source: str, required: list[str], weights: list[str], optional: tuple[str, ...] = ()) -> Path:
    """The snapshot folder with all ``required`` files and the first of ``weights`` the repo has (with its
    shards when that is a ``*.index.json``), plus whichever ``optional`` files exist."""
    repo, rev = parse_hub_id(source)
    found = next((w for w in weights if _cached(repo, w, rev) is not None), None)
    if hf_offline():  # name everything that is missing in one message
        missing = [n for n in required if _cached(repo, n, rev) is None] + ([] if found else weights[:1])
        if missing:
            raise _missing(repo, missing, "HF_HUB_OFFLINE is set, so nothing is downloaded")
    folder = _fetch(repo, required, rev)[0].parent
    if found is None:
        found = next((w for w in weights if _download(repo, w, rev) is not None), None)
        if found is None:
            raise _missing(repo, weights, "the repo has none of these weight files")
    if found.endswith(".index.json"):  # sharded: fetch the shards the index names
        index = json.loads(_cached(repo, found, rev).read_text())
        _fetch(repo, sorted(set(index.get("weight_map", {}).values())), rev)
    for name in optional:
        if _cached(repo, name, rev) is None and not hf_offline():
            with contextlib.suppress(WeightsError):  # optional: the entry's own record stands in
                _download(repo, name, rev)
    return folder
