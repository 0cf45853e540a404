"""Loading state dicts without running code: safetensors first, ``torch.load(weights_only=True)`` otherwise."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from emozoo.errors import WeightsError

__all__ = ["load_state_dict"]


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat ``{key: tensor}`` state dict from ``.safetensors``, ``.pth``, ``.pt`` or ``.bin``.

    Pickled files are opened with ``weights_only=True``: a file whose unpickling would construct arbitrary objects
    or call functions is refused, never executed.

    Raises:
        WeightsError: missing file, unsafe pickle, or a file that does not hold a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WeightsError(
            f"refused to load {path}: it is not a plain tensor checkpoint and unpickling it could run code "
            f"({first[:200]}). Convert it to .safetensors on a trusted machine, or re-save its state_dict."
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors (got {type(obj).__name__})")
    return obj
