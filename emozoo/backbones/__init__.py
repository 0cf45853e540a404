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


def create_backbone(
    name: str, pretrained: str | bool | None = None, impl: str | None = None, **kwargs: Any
) -> Backbone:
    """Build a registered backbone.

    Args:
        name: registry name (see ``emozoo.list_backbones()``).
        pretrained: ``None``/``False``/``"none"`` for random init; ``True``/``"true"`` for the entry's default
            weights; a ``.safetensors``/``.bin``/``.pth`` file; ``local-dir:DIR``; ``hf-hub:org/name`` (from the
            HF cache; downloaded only without ``HF_HUB_OFFLINE``). See ``emozoo.backbones.weights``.
        impl: the implementation to use where an entry has several (``timm``, ``open_clip``, ``hf``).
        **kwargs: passed to the library constructor (e.g. ``img_size=64``, ``depth=2``). ``img_size`` and
            ``depth`` mean the same for every implementation. Only shape and regularisation kwargs are passed on
            (``emozoo.backbones.args``): nothing that reads a file or names a hub repo.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the closest names).
        ValueError: ``impl`` is not available for this entry.
        ConfigError: a kwarg that is not allowed for the implementation, or a value out of its bounds.
        WeightsError: weights are missing (the message has the fetch command) or do not match.
    """
    from emozoo.backbones.args import check_backbone_args
    from emozoo.backbones.weights import load_backbone_weights, normalise_pretrained, resolve_weights

    spec = BACKBONES.get(name)
    impl = impl or spec.impl
    if impl not in spec.builders:
        raise ValueError(f"backbone {name!r} has no {impl!r} implementation; available: {', '.join(spec.impls)}")
    check_backbone_args(impl, kwargs, f"backbone {name!r} (impl {impl}) kwargs")
    source = normalise_pretrained(pretrained)
    path = resolve_weights(spec, impl, source) if source is not None else None  # fail before a long build
    model = spec.builders[impl](spec, **kwargs)
    if source is not None:
        load_backbone_weights(model, spec, impl, source, path=path)
    return model
