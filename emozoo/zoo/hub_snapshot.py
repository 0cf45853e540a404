"""A model repo's snapshot folder from the Hugging Face cache: ``hf-hub:org/name[@revision]`` to a local directory.

Checkpoints in the zoo are folders of several files (our ``config.json`` + ``model.safetensors``; Empathic-Insight's
40 head files), so resolution is by folder: every required file must be in one snapshot of the cache. The cache and
the offline flag are read from the environment at call time (``emozoo.backbones.hub``): with ``HF_HUB_OFFLINE=1``
nothing is downloaded and a miss names every missing file and the command that fetches them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from emozoo.backbones.hub import download_command, hf_cache_dir, hf_offline, parse_hub_id, resolve_hub_file
from emozoo.errors import WeightsError

__all__ = ["cached_file", "missing_files", "snapshot_dir"]


def cached_file(repo: str, name: str, revision: str | None) -> Path | None:
    """``name`` of ``repo`` in the cache, or None (never downloads)."""
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(repo, name, cache_dir=hf_cache_dir(), revision=revision)
    return Path(path) if isinstance(path, str) else None


def missing_files(source: str, groups: Sequence[Sequence[str]]) -> list[str]:
    """For each group of alternative names with none cached, its first name."""
    repo, rev = parse_hub_id(source)
    return [g[0] for g in groups if not any(cached_file(repo, n, rev) for n in g)]


def snapshot_dir(source: str, groups: Sequence[Sequence[str]], optional: Sequence[str] = ()) -> Path:
    """The snapshot folder holding one file of each group of alternatives (the first is preferred).

    Missing files are downloaded unless ``HF_HUB_OFFLINE`` is set; ``optional`` files are fetched when the repo
    has them and downloads are allowed.

    Raises:
        WeightsError: files are missing offline (all are named, with the fetch command), or the download failed.
    """
    repo, rev = parse_hub_id(source)
    missing = missing_files(source, groups)
    if missing and hf_offline():
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        cache = hf_cache_dir()
        raise WeightsError(
            f"{source}: {shown} not in the Hugging Face cache {cache} (HF_HUB_OFFLINE is set, so nothing is "
            f"downloaded). On a connected machine run `HF_HUB_CACHE={cache} {download_command(repo, [])}`, or copy "
            f"its {cache / ('models--' + repo.replace('/', '--'))} folder here."
        )
    for group in groups:
        if any(cached_file(repo, n, rev) for n in group):
            continue
        resolve_hub_file(source, list(group))
    if not hf_offline():
        for name in optional:
            if cached_file(repo, name, rev) is None:
                with contextlib.suppress(WeightsError):  # optional: fine when the repo has no such file
                    resolve_hub_file(source, [name])
    folder = next(p for n in groups[0] if (p := cached_file(repo, n, rev)) is not None).parent
    stray = [g[0] for g in groups if not any((folder / n).is_file() for n in g)]
    if stray:  # files of one checkpoint must come from one revision
        raise WeightsError(
            f"{source}: the cached snapshot {folder} lacks {', '.join(stray[:3])} (they are cached under another "
            f"revision). Fetch one revision completely: `{download_command(repo, [])}`."
        )
    return folder
