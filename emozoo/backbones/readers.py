"""Reading state dicts from disk: safetensors (single or sharded) and ``weights_only`` pickles.

Vision backbones often read checkpoints of a whole CLIP/SigLIP model. The text tower's tensors (about 450M
parameters in SigLIP2 So400m) are skipped at read time, never materialised: safetensors are read key by key and
pickles are memory-mapped. Only the known text-tower keys of the HF and open_clip layouts are skipped; anything
else unknown is kept, so the strict check reports it.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch

from emozoo.backbones.convert import HF_TEXT_KEYS, HF_VISION_PREFIX, OPEN_CLIP_TEXT_KEYS
from emozoo.errors import WeightsError

__all__ = ["WEIGHT_FILES", "find_weights_in_dir", "read_state_dict"]

# What a weights folder may hold, most preferred first (safetensors before pickles).
WEIGHT_FILES = [
    "model.safetensors",
    "model.safetensors.index.json",
    "open_clip_model.safetensors",
    "pytorch_model.bin",
    "open_clip_pytorch_model.bin",
    "model.pth",
]
_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")


def find_weights_in_dir(directory: Path) -> Path:
    """The weights file in ``directory``: a known name, else the only file with a weights suffix."""
    for name in WEIGHT_FILES:
        if (directory / name).is_file():
            return directory / name
    found = sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES)
    if len(found) == 1:
        return found[0]
    listing = ", ".join(p.name for p in sorted(directory.iterdir())[:10]) or "empty"
    raise WeightsError(
        f"no weights file in {directory} (looked for {', '.join(WEIGHT_FILES)} or a single "
        f"{'/'.join(_SUFFIXES)} file; found: {listing})"
    )


def _text_keys(keys: list[str]) -> set[str]:
    """Keys of a text tower beside a vision tower, in the HF (``text_model.*``) or open_clip layout."""
    if any(k.startswith(HF_VISION_PREFIX) for k in keys):
        return {k for k in keys if k.startswith(HF_TEXT_KEYS)}
    if any(k.startswith("visual.") for k in keys):
        return {k for k in keys if k.startswith(OPEN_CLIP_TEXT_KEYS)}
    return set()


def _read_safetensors(paths: dict[str, Path]) -> dict[str, torch.Tensor]:
    """``paths`` maps each key to the file holding it (one file, or the shards of an index)."""
    from safetensors import safe_open

    skip = _text_keys(list(paths))
    out: dict[str, torch.Tensor] = {}
    by_file: dict[Path, list[str]] = {}
    for key, path in paths.items():
        if key not in skip:
            by_file.setdefault(path, []).append(key)
    for path, keys in by_file.items():
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in keys:
                    out[key] = f.get_tensor(key)
        except Exception as err:
            raise WeightsError(f"{path}: not a readable safetensors file ({err})") from err
    return out


def _safetensors_keys(path: Path) -> dict[str, Path]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict.fromkeys(f.keys(), path)
    except Exception as err:
        raise WeightsError(f"{path}: not a readable safetensors file ({err})") from err


def _index_keys(index: Path) -> dict[str, Path]:
    weight_map = json.loads(index.read_text()).get("weight_map", {})
    missing = sorted({f for f in weight_map.values() if not (index.parent / f).is_file()})
    if missing:
        raise WeightsError(f"{index} lists shards that are not beside it: {', '.join(missing[:5])}")
    return {k: index.parent / f for k, f in weight_map.items()}


def _read_pickle(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as err:
        if "mmap" not in str(err):  # legacy (non-zip) files cannot be memory-mapped
            raise WeightsError(_refused(path, err)) from err
        obj = _load_plain(path)
    except (pickle.UnpicklingError, EOFError) as err:
        raise WeightsError(_refused(path, err)) from err
    for key in ("state_dict", "model", "module"):  # Lightning checkpoints and common training wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: expected a state dict of tensors, got {type(obj).__name__}")
    skip = _text_keys(list(obj))
    return {k: v for k, v in obj.items() if k not in skip}


def _load_plain(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise WeightsError(_refused(path, err)) from err


def _refused(path: Path, err: Exception) -> str:
    return (
        f"{path}: torch.load(weights_only=True) refused it ({str(err).splitlines()[0]}); only plain state dicts "
        "are loaded: re-save with torch.save(model.state_dict(), path) or use .safetensors"
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from ``.safetensors``, a sharded ``*.safetensors.index.json`` or a ``weights_only`` pickle."""
    if path.name.endswith(".safetensors.index.json"):
        return _read_safetensors(_index_keys(path))
    if path.suffix == ".safetensors":
        return _read_safetensors(_safetensors_keys(path))
    return _read_pickle(path)
