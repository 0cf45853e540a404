"""The checkpoint zoo: ``checkpoints/zoo.yaml`` as a registry of ``ZooEntry`` by name, and ``list_checkpoints``.

The manifest is data: adding a published checkpoint is one YAML entry, nothing else changes. It is read from
``checkpoints/zoo.yaml`` in the working directory, else the copy shipped in the package, plus any files
in ``EMOZOO_ZOO`` (``os.pathsep``-separated). Whether an entry is *present* is checked without a network: a local
folder, or the Hugging Face cache (``HF_HUB_CACHE``) with ``local_files_only`` semantics.
"""

from __future__ import annotations

import glob
import os
from dataclasses import asdict, dataclass, fields
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from emozoo.backbones.hub import missing_files
from emozoo.errors import ConfigError, WeightsError
from emozoo.registry import Registry
from emozoo.resources import packaged_path
from emozoo.zoo.empathic import head_file_names, load_release
from emozoo.zoo.format import CONFIG_NAME, WEIGHTS_NAME, resolve_model_dir, restore

__all__ = [
    "FORMATS",
    "ZooEntry",
    "get_entry",
    "list_checkpoints",
    "load_zoo_entry",
    "manifest_paths",
    "required_files",
    "zoo_registry",
]

FORMATS = ("emozoo", "empathic-insight")
MANIFEST = Path("checkpoints") / "zoo.yaml"


@dataclass(frozen=True)
class ZooEntry:
    """One published (or local) checkpoint; see the comment block of ``checkpoints/zoo.yaml`` for the keys."""

    name: str
    format: str
    source: str
    backbone: str | None = None
    head: str | None = None
    impl: str | None = None
    size: str | None = None
    encoder: str | None = None
    neutral_means: str | None = None
    released: bool = False
    license: str | None = None
    paper: str | None = None
    description: str = ""
    manifest: str = ""  # the file this entry came from (relative sources are relative to its folder)

    @property
    def is_hub(self) -> bool:
        return self.source.startswith("hf-hub:")

    def local_path(self) -> Path | None:
        """The local folder of a non-hub source (newest glob match), or None when there is none."""
        if self.is_hub:
            return None
        pattern = Path(self.source).expanduser()
        if not pattern.is_absolute():  # the packaged manifest's sources are relative to ./checkpoints, as a checkout's
            base = Path(self.manifest).parent
            pattern = (MANIFEST.parent if base == packaged_path("assets") else base) / pattern
        matches = [Path(p) for p in glob.glob(str(pattern)) if _readable(Path(p), Path.is_dir)]
        return max(matches, key=lambda p: (_mtime(p), str(p))) if matches else None


def _readable(path: Path, test) -> bool:
    """``test(path)`` (``Path.is_dir``/``is_file``), False where a folder on the way may not be read: a zoo glob
    over shared drives meets other people's folders, and one of them must not stop the listing."""
    try:
        return test(path)
    except OSError:
        return False


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def manifest_paths() -> list[Path]:
    """The manifest files read, in order: ``./checkpoints/zoo.yaml`` (else the packaged one), then ``EMOZOO_ZOO``."""
    here = Path.cwd() / MANIFEST
    paths = [here if here.is_file() else packaged_path("assets", "zoo.yaml")]  # the copy shipped in the package
    paths += [Path(p) for p in os.environ.get("EMOZOO_ZOO", "").split(os.pathsep) if p]
    return [p for p in paths if p.is_file()]


def _entry(name: str, raw: Any, path: Path) -> ZooEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: checkpoints.{name} must be a mapping of keys (format, source, ...)")
    known = {f.name for f in fields(ZooEntry)} - {"name", "manifest"}
    for key in raw:
        if key not in known:
            close = get_close_matches(str(key), sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{path}: checkpoints.{name}: unknown key {key!r}{hint} Valid: {', '.join(sorted(known))}"
            )
    for key in ("format", "source"):
        if not raw.get(key):
            raise ConfigError(f"{path}: checkpoints.{name} needs {key!r}")
    if raw["format"] not in FORMATS:
        raise ConfigError(f"{path}: checkpoints.{name}.format is {raw['format']!r}; valid: {', '.join(FORMATS)}")
    return ZooEntry(name=name, manifest=str(path), **{k: v for k, v in raw.items() if v is not None})


def zoo_registry(paths: list[Path] | None = None) -> Registry[ZooEntry]:
    """A registry of the entries of ``paths`` (default ``manifest_paths()``), read now (manifests are small)."""
    from omegaconf import OmegaConf

    registry: Registry[ZooEntry] = Registry("zoo checkpoint")
    for path in manifest_paths() if paths is None else paths:
        try:
            data = OmegaConf.to_container(OmegaConf.load(path))
        except Exception as err:
            raise ConfigError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
        checkpoints = (data or {}).get("checkpoints") if isinstance(data, dict) else None
        if not isinstance(checkpoints, dict):
            raise ConfigError(f"{path}: expected a top-level 'checkpoints:' mapping of name -> entry")
        for name, raw in checkpoints.items():
            if name in registry:
                raise ConfigError(f"{path}: checkpoint {name!r} is already defined in another manifest")
            registry.register(str(name), _entry(str(name), raw, path))
    return registry


def get_entry(name: str) -> ZooEntry:
    """The zoo entry ``name``; raises ``WeightsError`` with the closest names when there is none."""
    registry = zoo_registry()
    if name not in registry:
        raise WeightsError(registry.unknown_message(name) + " See `emozoo zoo list`.")
    return registry.get(name)


def _presence(entry: ZooEntry) -> tuple[bool, str | None]:
    """(present, where): the checkpoint's own files, locally or in the HF cache."""
    groups = required_files(entry)
    if entry.is_hub:
        ok = not missing_files(entry.source, groups)
        return ok, "hf-cache" if ok else None
    path = entry.local_path()
    ok = path is not None and all(any(_readable(path / n, Path.is_file) for n in g) for g in groups)
    return ok, str(path) if path else None


def _encoder_presence(entry: ZooEntry) -> bool | None:
    if entry.format != "empathic-insight" or not entry.encoder:
        return None
    if entry.encoder.startswith("hf-hub:"):
        groups = [("config.json",), ("model.safetensors", "model.safetensors.index.json")]
        return not missing_files(entry.encoder, groups)
    return Path(entry.encoder.removeprefix("local-dir:")).expanduser().exists()


def required_files(entry: ZooEntry) -> list[tuple[str, ...]]:
    """The files a checkpoint cannot do without, as groups of alternative names."""
    if entry.format == "empathic-insight":
        return head_file_names()
    return [(CONFIG_NAME,), (WEIGHTS_NAME,)]


def list_checkpoints(pattern: str = "*") -> list[dict[str, Any]]:
    """The zoo's checkpoints matching a glob, with whether each is present locally (never downloads).

    Each dict has the ``ZooEntry`` fields plus ``present`` (the checkpoint's files are in a local folder or the HF
    cache), ``location`` (that folder, or ``hf-cache``) and ``encoder_present`` (Empathic-Insight: the SigLIP2
    encoder is cached too; None where there is no separate encoder).

    Example:
        >>> import emozoo.zoo
        >>> "empathic-insight-face-large" in [c["name"] for c in emozoo.zoo.list_checkpoints()]
        True
    """
    registry = zoo_registry()
    out = []
    for name in registry.names(pattern):
        entry = registry.get(name)
        present, location = _presence(entry)
        row = {k: v for k, v in asdict(entry).items() if k != "manifest"}
        row.update(present=present, location=location, encoder_present=_encoder_presence(entry))
        out.append(row)
    return out


def load_zoo_entry(
    name: str,
    map_location: str = "cpu",
    *,
    encoder: str | bool | None = None,
    encoder_args: dict[str, Any] | None = None,
    neutral_means: str | Path | None = None,
):
    """Load the zoo checkpoint ``name`` with the loader its format needs (see ``emozoo.load_model``)."""
    entry = get_entry(name)
    source: str | Path = entry.source
    if not entry.is_hub:
        source = entry.local_path()
        if source is None:
            how = " It is not released: train it first (see its description)." if not entry.released else ""
            raise WeightsError(
                f"zoo checkpoint {name!r}: no folder matches {entry.source} (from {entry.manifest}).{how}"
            )
    if entry.format == "empathic-insight":
        means = neutral_means if neutral_means is not None else entry.neutral_means
        if isinstance(means, str) and not Path(means).is_absolute() and not Path(means).exists():
            means = str(Path(entry.manifest).parent / means)  # relative to the manifest, like sources
        return load_release(
            source,
            entry.encoder if encoder is None else encoder,
            encoder_args,
            means,
            size=entry.size,
            impl=entry.impl or "hf",
        )
    return restore(resolve_model_dir(source), map_location)
