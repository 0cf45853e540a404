"""Image transforms built from a backbone's ``DataConfig`` (timm's ``create_transform`` idea)."""

from __future__ import annotations

import math

import torch
from PIL import Image
from torchvision.transforms import v2 as T

from emozoo.backbones.base import DataConfig

__all__ = ["create_transform"]

_INTERP = {
    "bilinear": T.InterpolationMode.BILINEAR,
    "bicubic": T.InterpolationMode.BICUBIC,
    "nearest": T.InterpolationMode.NEAREST,
}


def create_transform(cfg: DataConfig, train: bool = False) -> T.Compose:
    """PIL image (any size, any mode) to a normalised float tensor of ``cfg.input_size``.

    ``squash`` resizes both sides to the input size (SigLIP's preprocessing); ``center`` resizes the short side
    to ``size / crop_pct`` and centre-crops (CLIP/ViT). Training adds only a horizontal flip: faces are roughly
    symmetric and the emotion labels do not depend on left/right.
    """
    _, h, w = cfg.input_size
    interp = _INTERP.get(cfg.interpolation, T.InterpolationMode.BICUBIC)
    if cfg.crop_mode == "squash":
        geometry = [T.Resize((h, w), interpolation=interp, antialias=True)]
    else:
        scale = int(math.floor(min(h, w) / cfg.crop_pct))
        geometry = [T.Resize(scale, interpolation=interp, antialias=True), T.CenterCrop((h, w))]
    aug = [T.RandomHorizontalFlip()] if train else []
    return T.Compose(
        [
            T.Lambda(_to_rgb),
            T.PILToTensor(),
            *geometry,
            *aug,
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean=list(cfg.mean), std=list(cfg.std)),
        ]
    )


def _to_rgb(img: Image.Image) -> Image.Image:
    return img if img.mode == "RGB" else img.convert("RGB")
