"""Backbone registry entries. Adding a backbone is one ``_add(...)`` call here.

Preprocessing is not typed here: it is resolved from the library's pretrained config when the backbone is built.
"""

from __future__ import annotations

from emozoo.backbones.base import BACKBONES, BackboneSpec
from emozoo.backbones.cnn import build_cnn
from emozoo.backbones.timm_backbone import build_timm

_BUILDERS = {"timm": build_timm, "builtin": build_cnn}


def _add(name: str, impl: str, model_names: dict[str, str], num_features: int, **kw) -> None:
    builders = {k: _BUILDERS[k] for k in model_names}
    BACKBONES.register(name, BackboneSpec(name, impl, builders, model_names, num_features, **kw))


_add(
    "vit-tiny",
    "timm",
    {"timm": "vit_tiny_patch16_224"},
    192,
    weights={"timm": "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k"},
    description="ViT-Ti/16 (timm); random init is the CPU demo backbone",
)
_add(
    "cnn-tiny",
    "builtin",
    {"builtin": "tiny_cnn"},
    192,
    description="4-stage CNN, random init only; fastest tests",
)
