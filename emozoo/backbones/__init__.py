"""Backbones: the interface, the registry and ``create_backbone``."""

from __future__ import annotations

from typing import Any

from emozoo.backbones import entries as _entries  # noqa: F401  (registers the entries)
from emozoo.backbones.base import BACKBONES, Backbone, BackboneSpec, DataConfig, list_backbones
from emozoo.backbones.transforms import create_transform

__all__ = [
    "BACKBONES",
    "Backbone",
    "BackboneSpec",
    "DataConfig",
    "create_backbone",
    "create_transform",
    "list_backbones",
]


def create_backbone(name: str, pretrained: str | bool | None = None, impl: str | None = None, **kwargs: Any) -> Backbone:
    """Build a registered backbone.

    Args:
        name: registry name (see ``emozoo.list_backbones()``).
        pretrained: ``None``/``False`` for random init; otherwise a weights source (see ``emozoo.backbones.weights``).
        impl: the implementation to use where an entry has several (``timm``, ``open_clip``, ``hf``).
        **kwargs: passed to the library constructor (e.g. ``img_size=64``).

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the closest names).
        ValueError: ``impl`` is not available for this entry.
    """
    spec = BACKBONES.get(name)
    impl = impl or spec.impl
    if impl not in spec.builders:
        raise ValueError(f"backbone {name!r} has no {impl!r} implementation; available: {', '.join(spec.impls)}")
    model = spec.builders[impl](spec, **kwargs)
    if pretrained:
        from emozoo.backbones.weights import load_backbone_weights

        load_backbone_weights(model, spec, impl, pretrained)
    return model
