"""Loading backbone weights without a network: what ``pretrained=`` accepts and how it is checked.

``pretrained`` may be:

- ``true``: the entry's default source for the implementation (``BackboneSpec.weights``);
- a file: ``.safetensors``, or ``.bin``/``.pth``/``.pt`` read with ``torch.load(weights_only=True)`` (a Lightning
  checkpoint's ``state_dict`` and an ``EmotionModel``'s ``backbone.*`` keys are found inside);
- ``local-dir:DIR`` (or a plain directory): the weights file inside, e.g. an HF ``config.json`` +
  ``model.safetensors`` folder;
- ``hf-hub:org/name[@rev]``: from the Hugging Face cache, downloaded only when ``HF_HUB_OFFLINE`` is unset.

Any layout the implementation knows is converted (``Backbone.adapt_state_dict``); then keys and shapes must
match exactly. A mismatch raises ``WeightsError`` listing the first differences: never a silent ``strict=False``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from emozoo.backbones.base import Backbone, BackboneSpec
from emozoo.backbones.hub import resolve_hub_dir, resolve_hub_file
from emozoo.backbones.readers import check_state, find_weights_in_dir, read_state_dict, tensor_specs
from emozoo.errors import WeightsError

__all__ = ["check_state_dict", "load_backbone_weights", "normalise_pretrained", "read_state_dict", "resolve_weights"]

# Preferred file names per implementation, most preferred first (safetensors before pickles).
HUB_FILES = {
    "timm": ["model.safetensors", "open_clip_model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"],
    "open_clip": ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"],
    "hf": ["model.safetensors", "pytorch_model.bin"],
}
_WRAPPER_PREFIXES = ("model.backbone.", "backbone.")  # a LightningModule's / EmotionModel's backbone keys


def normalise_pretrained(pretrained: str | bool | None) -> str | None:
    """``None``/``False``/``"false"``/``"none"``/``""`` mean random init; ``True`` means ``"true"``."""
    if pretrained is None or pretrained is False:
        return None
    if pretrained is True:
        return "true"
    s = str(pretrained).strip()
    return None if s.lower() in ("", "false", "none", "null", "0") else ("true" if s.lower() == "true" else s)


def resolve_weights(spec: BackboneSpec, impl: str, pretrained: str) -> Path:
    """The local file or folder ``pretrained`` names for ``spec``/``impl`` (see the module docstring)."""
    if pretrained == "true":
        if impl not in spec.weights:
            raise WeightsError(
                f"backbone {spec.name!r} has no default weights for impl {impl!r} "
                f"(it has: {', '.join(spec.weights) or 'none'}); pass a file, local-dir:DIR or hf-hub:org/name"
            )
        pretrained = spec.weights[impl]
    if pretrained.startswith("hf-hub:"):
        if impl == "hf":  # the transformers layout is a folder: config.json beside the weights
            return resolve_hub_dir(
                pretrained,
                ["config.json"],
                ["model.safetensors", "model.safetensors.index.json"],
                optional=("preprocessor_config.json",),
            )
        return resolve_hub_file(pretrained, HUB_FILES.get(impl, HUB_FILES["timm"]))
    path = Path(pretrained.removeprefix("local-dir:")).expanduser()
    if pretrained.startswith("local-dir:") and not path.is_dir():
        raise WeightsError(f"{pretrained}: {path.resolve()} is not a directory")
    if not path.exists():
        raise WeightsError(
            f"weights file {path.resolve()} does not exist; pretrained= takes a .safetensors/.bin/.pth file, "
            "local-dir:DIR, hf-hub:org/name or true"
        )
    return path


def _strip_wrapper(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The backbone part of a whole ``EmotionModel``/LightningModule state dict (its head is not ours)."""
    for prefix in _WRAPPER_PREFIXES:
        if any(k.startswith(prefix) for k in sd):
            return {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
    return sd


def check_state_dict(backbone: Backbone, sd: dict[str, torch.Tensor], origin: str) -> None:
    """Raise ``WeightsError`` unless ``sd`` has exactly the backbone's keys and shapes (``readers.check_state``)."""
    check_state(
        tensor_specs(backbone.state_dict()),
        tensor_specs(sd),
        f"weights {origin}",
        f"backbone {backbone.name!r} (impl {backbone.impl})",
        "Check the backbone name, impl and kwargs (depth, img_size, ...) against the checkpoint.",
    )


def load_backbone_weights(
    backbone: Backbone, spec: BackboneSpec, impl: str, pretrained: str | bool, path: Path | None = None
) -> Path:
    """Resolve (unless ``path`` is given), read, convert, check and load ``pretrained``; returns the file read."""
    source = normalise_pretrained(pretrained)
    if source is None:
        raise WeightsError("load_backbone_weights needs a weights source")
    path = path or resolve_weights(spec, impl, source)
    if path.is_dir():
        backbone.update_from_checkpoint_dir(path)
        path = find_weights_in_dir(path)
    sd = backbone.adapt_state_dict(_strip_wrapper(read_state_dict(path)))
    check_state_dict(backbone, sd, f"{source} ({path})" if str(path) != source else str(path))
    backbone.load_state_dict(sd, strict=True)
    backbone.pretrained_source = source
    return path
