"""``cnn-tiny``: a four-stage CNN for the fastest tests and CPU smoke runs (random init only)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from emozoo.backbones.base import Backbone, BackboneSpec, DataConfig

__all__ = ["TinyCNN", "build_cnn"]


def _stage(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.GELU(),
    )


class TinyCNN(Backbone):
    """Conv stages that halve the resolution, then global average pooling.

    Args:
        widths: channels per stage; the last is ``num_features``.
        img_size: native input resolution (any size works; this is what the transforms produce).
    """

    impl = "builtin"

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 192), img_size: int = 64, name: str = "cnn-tiny"):
        super().__init__()
        self.name = name
        chans = (3, *widths)
        self.stages = nn.Sequential(*[_stage(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.num_features = widths[-1]
        self.data_config = DataConfig(input_size=(3, img_size, img_size), interpolation="bilinear")

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.stages(images).mean(dim=(2, 3))

    def blocks(self) -> list[nn.Module]:
        return list(self.stages)


def build_cnn(spec: BackboneSpec, **kwargs: Any) -> TinyCNN:
    args = {**spec.model_args, **kwargs}
    if "widths" in args:
        args["widths"] = tuple(args["widths"])
    return TinyCNN(name=spec.name, **args)
