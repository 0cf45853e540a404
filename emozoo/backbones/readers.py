"""Reading and checking state dicts: safetensors (single or sharded), ``weights_only`` pickles, and THE key check.

Every weight file emozoo reads goes through here (backbone weights, model folders, Empathic-Insight heads, training
checkpoints), and every comparison of a file's tensors with a model's goes through ``check_state``, so a mismatch
reads the same wherever it is found. A safetensors header is read and checked on its own (``safetensors_header``),
so a model folder's shapes are compared with the model before anything of that size is allocated.

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

__all__ = [
    "WEIGHT_FILES",
    "check_finite",
    "check_state",
    "find_weights_in_dir",
    "read_state_dict",
    "safetensors_header",
    "tensor_specs",
]

Spec = tuple[tuple[int, ...], torch.dtype]  # (shape, dtype) of one tensor, as a header states it

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
_SHOW = 5  # differences listed per kind in a mismatch message
_MAX_HEADER = 100 * 2**20  # safetensors' own limit on the JSON header
_ST_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


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
    except (pickle.UnpicklingError, EOFError, ValueError, OSError) as err:
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
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        raise WeightsError(_refused(path, err)) from err


def _refused(path: Path, err: Exception) -> str:
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
    return (
        f"refused to load {path}: torch.load(weights_only=True) failed ({first}); only plain state dicts "
        "are loaded: re-save with torch.save(model.state_dict(), path) or use .safetensors"
    )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from ``.safetensors``, a sharded ``*.safetensors.index.json`` or a ``weights_only`` pickle.

    Pickles are opened with ``weights_only=True``: a file whose unpickling would construct arbitrary objects or
    call functions is refused, never executed.

    Raises:
        WeightsError: missing, empty, truncated or unsafe file, or one that does not hold a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.name.endswith(".safetensors.index.json"):
        return _read_safetensors(_index_keys(path))
    if path.suffix == ".safetensors":
        safetensors_header(path)  # a one-line error for an empty or garbage file, before safetensors sees it
        return _read_safetensors(_safetensors_keys(path))
    return _read_pickle(path)


def _bad_header(path: Path, why: str) -> WeightsError:
    return WeightsError(f"{path}: not a valid safetensors file ({why}); re-export it or fetch it again")


def _header_entry(path: Path, key: str, entry: object, data_size: int) -> Spec:
    if not isinstance(entry, dict) or entry.get("dtype") not in _ST_DTYPES:
        raise _bad_header(path, f"tensor {key!r} has no known dtype")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape) or len(shape) > 8:
        raise _bad_header(path, f"tensor {key!r} has shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
        raise _bad_header(path, f"tensor {key!r} has data_offsets {offsets!r}")
    dtype = _ST_DTYPES[entry["dtype"]]
    numel = 1
    for d in shape:
        numel *= d
    if not 0 <= offsets[0] <= offsets[1] <= data_size or offsets[1] - offsets[0] != numel * dtype.itemsize:
        raise _bad_header(path, f"tensor {key!r} of shape {tuple(shape)} does not fit its bytes {offsets}")
    return tuple(shape), dtype


def safetensors_header(path: str | Path) -> dict[str, Spec]:
    """``{key: (shape, dtype)}`` from a safetensors file's header, checked against the file size; no tensor read.

    Raises:
        WeightsError: empty, truncated or garbage file (one line, naming the file).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little") if size >= 8 else -1
        if not 0 < n <= min(_MAX_HEADER, size - 8):
            raise _bad_header(path, f"{size} bytes, header length {n}")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise _bad_header(path, f"header is not JSON: {type(err).__name__}") from None
    if not isinstance(header, dict):
        raise _bad_header(path, "header is not a JSON object")
    return {k: _header_entry(path, k, v, size - 8 - n) for k, v in header.items() if k != "__metadata__"}


def tensor_specs(state: dict[str, torch.Tensor]) -> dict[str, Spec]:
    """``{key: (shape, dtype)}`` of a state dict (works on the ``meta`` device: nothing is read)."""
    return {k: (tuple(v.shape), v.dtype) for k, v in state.items()}


def _listed(label: str, items: list[str]) -> str:
    return f"{label} ({len(items)}): {', '.join(items[:_SHOW])}{', ...' if len(items) > _SHOW else ''}"


def check_state(expected: dict[str, Spec], found: dict[str, Spec], origin: str, target: str, hint: str = "") -> None:
    """THE key check: raise ``WeightsError`` unless ``found`` has exactly the keys and shapes of ``expected``, and
    floating tensors where ``expected`` has them (``Spec`` from ``tensor_specs`` or ``safetensors_header``).

    Args:
        expected: what the model holds.
        found: what the file holds.
        origin: the file (or source) for the message.
        target: what it was meant for, e.g. ``backbone 'vit-tiny' (impl timm)``.
        hint: what to check, appended to the message.
    """
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    common = [k for k in expected if k in found]
    shapes = [f"{k} {found[k][0]} in the file vs {expected[k][0]}" for k in common if found[k][0] != expected[k][0]]
    dtypes = [
        f"{k} {str(found[k][1]).removeprefix('torch.')} in the file vs {str(expected[k][1]).removeprefix('torch.')}"
        for k in common
        if found[k][1].is_floating_point != expected[k][1].is_floating_point
    ]
    labelled = (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes), ("dtype", dtypes))
    parts = [_listed(label, items) for label, items in labelled if items]
    if parts:
        raise WeightsError(f"{origin} does not match {target}: {'; '.join(parts)}." + (f" {hint}" if hint else ""))


def check_finite(state: dict[str, torch.Tensor], origin: str) -> None:
    """Raise ``WeightsError`` naming the tensors of ``state`` that hold NaN or infinity."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise WeightsError(
            f"{origin}: {_listed('tensors with NaN or inf values', bad)}; a model with them gives meaningless "
            "outputs. Re-export it from a good checkpoint."
        )
