"""Writing WebDataset tar shards atomically and resumably, with a ``manifest.json`` beside them.

Used by every producer of shards (the SynthFace generator, the EmoNet-Face converters); it knows nothing about
labels. A shard set is a directory of ``{split}-{index:06d}.tar`` files. Each tar is written to a temporary
file in the same directory and moved into place with ``os.replace``, so a reader never sees half a shard.
Tar headers are fixed (mtime, owner, mode), so the same samples always give byte-identical shards.

After each shard the writer records it in ``manifest.partial.json``; an interrupted run that is started again
with the same ``generator`` description skips the shards whose sha256 still matches. ``finish`` writes the
final ``manifest.json`` (shards with split, count, sha256 and size; totals per split; anything the caller
adds) and removes the partial one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emozoo.errors import DataError

__all__ = [
    "MANIFEST",
    "MANIFEST_FORMAT",
    "PARTIAL_MANIFEST",
    "ShardSetWriter",
    "ShardSpec",
    "differences",
    "encode_sample",
    "plan_shards",
    "read_json",
    "sha256_file",
    "write_json_atomic",
    "write_tar",
]

MANIFEST = "manifest.json"
PARTIAL_MANIFEST = "manifest.partial.json"
MANIFEST_FORMAT = "emozoo-shards-v1"
_MTIME = 946684800  # 2000-01-01: a fixed, non-zero timestamp so shards are reproducible byte for byte


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` of ``split`` holds the split's samples ``start`` .. ``stop - 1``."""

    split: str
    index: int
    start: int
    stop: int

    @property
    def file(self) -> str:
        return f"{self.split}-{self.index:06d}.tar"

    @property
    def count(self) -> int:
        return self.stop - self.start


def plan_shards(split: str, num_samples: int, shard_size: int) -> list[ShardSpec]:
    """Cut ``num_samples`` samples into shards of ``shard_size`` (the last one may be smaller)."""
    if shard_size < 1:
        raise DataError(f"shard size must be at least 1, got {shard_size}")
    return [
        ShardSpec(split, i, start, min(start + shard_size, num_samples))
        for i, start in enumerate(range(0, num_samples, shard_size))
    ]


def encode_sample(sample: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """Tar members of one WebDataset sample: ``(key.ext, bytes)``; dicts and lists become compact JSON."""
    key = str(sample["__key__"])
    if not key or "." in key or "/" in key:
        raise DataError(f"sample key {key!r} must be non-empty without '.' or '/' (WebDataset splits names at dots)")
    members = []
    for ext, value in sample.items():
        if ext == "__key__":
            continue
        if isinstance(value, (bytes, bytearray)):
            data = bytes(value)
        elif isinstance(value, str):
            data = value.encode("utf-8")
        else:
            data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        members.append((f"{key}.{ext}", data))
    return members


class _HashingFile:
    """A write-only file object that hashes what passes through it (all that ``tarfile`` needs)."""

    def __init__(self, raw) -> None:
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def tell(self) -> int:
        return self.size

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)


def write_tar(path: str | Path, samples: Iterable[Mapping[str, Any]]) -> dict:
    """Write ``samples`` to the tar ``path`` atomically; returns ``{count, sha256, bytes}``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    count = 0
    try:
        with open(tmp, "wb") as raw:
            hashing = _HashingFile(raw)
            with tarfile.open(fileobj=hashing, mode="w", format=tarfile.GNU_FORMAT) as tar:
                for sample in samples:
                    for name, data in encode_sample(sample):
                        info = tarfile.TarInfo(name)
                        info.size, info.mtime, info.mode = len(data), _MTIME, 0o444
                        info.uid = info.gid = 0
                        info.uname = info.gname = ""
                        tar.addfile(info, io.BytesIO(data))
                    count += 1
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"count": count, "sha256": hashing.sha.hexdigest(), "bytes": hashing.size}


def sha256_file(path: str | Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def read_json(path: str | Path) -> dict | None:
    """The JSON object in ``path``, or None when the file does not exist."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON ({err}); delete it to regenerate the shards") from err


def write_json_atomic(path: str | Path, obj: Any) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Human-readable ``key: old -> new`` lines for nested dicts (to explain a refused directory)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            out += differences(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


class ShardSetWriter:
    """Writes the shards of one directory, resuming an interrupted run made with the same ``generator``.

    Args:
        directory: the shard set's directory (created if missing).
        generator: what made the shards: name, version and every parameter that changes their content. A
            directory that already holds shards from a different description is refused with a ``DataError``.
    """

    def __init__(self, directory: str | Path, generator: Mapping[str, Any]) -> None:
        self.directory = Path(directory)
        self.generator = json.loads(json.dumps(generator))  # normalise tuples etc. as JSON would store them
        self.records: dict[str, dict] = {}
        for name in (MANIFEST, PARTIAL_MANIFEST):
            found = read_json(self.directory / name)
            if found is None:
                continue
            if found.get("generator") != self.generator:
                diff = "; ".join(differences(found.get("generator"), self.generator)[:6])
                raise DataError(
                    f"{self.directory} already holds shards made differently ({diff}). "
                    f"Pick another --out, or delete {self.directory} to regenerate."
                )
            self.records.update({r["file"]: r for r in found.get("shards", [])})
        self.directory.mkdir(parents=True, exist_ok=True)

    def done(self, spec: ShardSpec, verify: bool = True) -> bool:
        """Whether ``spec``'s shard is already on disk, complete (and, with ``verify``, with its recorded sha256)."""
        record = self.records.get(spec.file)
        path = self.directory / spec.file
        if record is None or record.get("count") != spec.count or not path.is_file():
            return False
        if path.stat().st_size != record.get("bytes"):
            return False
        return not verify or sha256_file(path) == record["sha256"]

    def write(self, spec: ShardSpec, samples: Iterable[Mapping[str, Any]]) -> dict:
        """Write one shard and record it in the partial manifest."""
        info = write_tar(self.directory / spec.file, samples)
        if info["count"] != spec.count:
            raise DataError(f"{self.directory / spec.file}: expected {spec.count} samples, got {info['count']}")
        record = {"file": spec.file, "split": spec.split, **info}
        self.records[spec.file] = record
        partial = {"format": MANIFEST_FORMAT, "generator": self.generator, "shards": list(self.records.values())}
        write_json_atomic(self.directory / PARTIAL_MANIFEST, partial)
        return record

    def finish(self, specs: Iterable[ShardSpec], **extra: Any) -> dict:
        """Write ``manifest.json`` listing ``specs`` (all must be written) plus ``extra``; returns it."""
        shards, splits = [], {}
        for spec in specs:
            record = self.records.get(spec.file)
            if record is None:
                raise DataError(f"{self.directory / spec.file} was never written; run the command again")
            shards.append(record)
            total = splits.setdefault(spec.split, {"count": 0, "shards": 0})
            total["count"] += record["count"]
            total["shards"] += 1
        manifest = {
            "format": MANIFEST_FORMAT,
            "generator": self.generator,
            "count": sum(s["count"] for s in splits.values()),
            "splits": splits,
            "shards": shards,
            **extra,
        }
        write_json_atomic(self.directory / MANIFEST, manifest)
        (self.directory / PARTIAL_MANIFEST).unlink(missing_ok=True)
        return manifest
