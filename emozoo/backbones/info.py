"""Facts about registered backbones for listings (``emozoo zoo backbones``), measured on the ``meta`` device.

Building on ``meta`` allocates no memory and runs no initialisation, so counting the parameters of every entry,
So400m included, takes well under a second each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["BackboneInfo", "describe_backbone"]


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    impl: str
    impls: tuple[str, ...]
    params: int
    num_features: int
    input_size: tuple[int, int, int]
    preprocess: str
    weights: str
    description: str


def describe_backbone(name: str, impl: str | None = None) -> BackboneInfo:
    """Build ``name`` (default implementation unless ``impl``) on the meta device and report what it is."""
    from emozoo.backbones import BACKBONES, create_backbone

    spec = BACKBONES.get(name)
    impl = impl or spec.impl
    with torch.device("meta"):
        model = create_backbone(name, impl=impl)
    cfg = model.data_config
    resize = "squash" if cfg.crop_mode == "squash" else f"crop {cfg.crop_pct:g}"
    return BackboneInfo(
        name=name,
        impl=impl,
        impls=tuple(spec.impls),
        params=sum(p.numel() for p in model.parameters()),
        num_features=model.num_features,
        input_size=tuple(cfg.input_size),
        preprocess=f"{resize} {cfg.interpolation}",
        weights=spec.weights.get(impl, "none (random init)"),
        description=spec.description,
    )
