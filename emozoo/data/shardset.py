"""Finding a shard set on disk: ``<root>/<subset>/<split>-%06d.tar`` plus ``manifest.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from emozoo.errors import DataError

__all__ = ["ShardSet", "find_shards"]


@dataclass
class ShardSet:
    """The shards of one split, with what the manifest says about them."""

    directory: Path
    split: str
    urls: list[str]
    num_samples: int | None = None
    raters: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """Samples per shard file name, as ``manifest.json`` records them (empty without a manifest)."""
        return _manifest_counts(self.manifest, self.split)[1]

    @property
    def embedding(self) -> dict | None:
        """The manifest's ``embedding`` section for cached embeddings (``emozoo embed``); None for images."""
        return self.manifest.get("embedding")


def _manifest_counts(manifest: dict, split: str) -> tuple[int | None, dict[str, int]]:
    per_file: dict[str, int] = {}
    for shard in manifest.get("shards", []):
        if shard.get("split", split) == split and "count" in shard:
            per_file[Path(shard["file"]).name] = int(shard["count"])
    total = manifest.get("splits", {}).get(split, {}).get("count")
    if total is None and per_file:
        total = sum(per_file.values())
    return total, per_file


def find_shards(root: str | Path, subset: str, split: str) -> ShardSet:
    """The shards of ``split`` in ``root/subset`` (or in ``subset`` itself when it is a path).

    Raises:
        DataError: the directory does not exist or holds no ``<split>-*.tar`` file; the message says how to
            make shards.
    """
    directory = Path(subset) if Path(subset).is_absolute() else Path(root) / subset
    if not directory.is_dir():
        raise DataError(
            f"shard directory not found: {directory}. Make shards with `emozoo shards synthface --out {root}` "
            f"(or `emozoo shards convert ...`), or point data.root=... at existing shards."
        )
    files = sorted(directory.glob(f"{split}-*.tar"))
    if not files:
        present = sorted({p.name.split("-")[0] for p in directory.glob("*.tar")})
        raise DataError(
            f"no '{split}-*.tar' shards in {directory} (splits present: {present or 'none'}). "
            f"Choose an existing split, or regenerate the shards into an empty directory."
        )
    manifest = {}
    mpath = directory / "manifest.json"
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"{mpath}: not valid JSON ({err}); regenerate the shards or fix the file") from None
    total, _ = _manifest_counts(manifest, split)
    return ShardSet(directory, split, [str(f) for f in files], total, list(manifest.get("raters", [])), manifest)
