"""Image transforms built from a backbone's ``DataConfig``, in two halves (timm's ``use_prefetcher`` idea).

``create_transform`` builds a per-sample half (mode, geometry and augmentation: a PIL image to a uint8 tensor of
the input size) and a per-batch half (``BatchNormalize``: ToDtype(float32, scale=True) then Normalize) directly,
as timm's ``create_transform(use_prefetcher=True)`` leaves normalisation to its prefetcher. Loaders run the first
half in their workers and the second once per batch, often on the device: uint8 samples are a quarter of the
bytes to move, and both steps of the second half are elementwise, so the numbers equal the whole transform's.
Calling the returned ``ImageTransform`` on one image runs both halves, as a plain transform would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torchvision.transforms import v2 as T

from emozoo.backbones.base import DataConfig

__all__ = ["BatchNormalize", "ImageTransform", "create_transform"]

_INTERP = {
    "bilinear": T.InterpolationMode.BILINEAR,
    "bicubic": T.InterpolationMode.BICUBIC,
    "nearest": T.InterpolationMode.NEAREST,
}


class BatchNormalize:
    """uint8 images ``(..., C, H, W)`` to normalised float32: torchvision's ``ToDtype(float32, scale=True)`` then
    ``Normalize(mean, std)``, computed as torchvision computes them (convert, multiply by 1/255, subtract the mean,
    divide by the std), so the numbers are bitwise the same, on whatever device the images are.

    ``out`` (a float32 tensor of the images' shape) receives the result in place: a loader worker writes it
    straight into a reusable shared-memory buffer, where every extra pass over a float batch showed in the
    loader's throughput on small images.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)

    @classmethod
    def from_config(cls, cfg: DataConfig) -> BatchNormalize:
        return cls(cfg.mean, cfg.std)

    def __call__(self, images: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        if out is None:
            out = torch.empty(images.shape, dtype=torch.float32, device=images.device)
        out.copy_(images)
        if not images.is_floating_point():  # ToDtype scales integer images only
            out.mul_(1.0 / torch.iinfo(images.dtype).max)
        mean = torch.as_tensor(self.mean, dtype=torch.float32, device=out.device).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=torch.float32, device=out.device).view(-1, 1, 1)
        return out.sub_(mean).div_(std)

    def __repr__(self) -> str:
        return f"BatchNormalize(mean={list(self.mean)}, std={list(self.std)})"


@dataclass(frozen=True)
class ImageTransform:
    """A model's preprocessing as its two halves; calling it on one image runs both.

    The per-sample half is itself two steps: ``geometry``, a function of the image alone (what a decode cache may
    keep, ``emozoo.data.sample_cache``), then ``augment``, the random part of training (a flip of the uint8 tensor).

    Attributes:
        geometry: PIL image (any size, any mode) to a uint8 ``(3, H, W)`` tensor of the input size; deterministic.
        batch: uint8 images (one or a batch) to the normalised float32 the model takes.
        augment: random uint8-tensor-to-uint8-tensor steps after ``geometry`` (training), or None.
    """

    geometry: T.Compose
    batch: BatchNormalize
    augment: T.Compose | None = None

    @property
    def sample(self) -> T.Compose:
        """The whole per-sample half: ``geometry`` then ``augment``."""
        return T.Compose([*self.geometry.transforms, *(self.augment.transforms if self.augment else [])])

    def __call__(self, img: Image.Image) -> torch.Tensor:
        return self.batch(self.sample(img))


def create_transform(cfg: DataConfig, train: bool = False) -> ImageTransform:
    """The per-sample and per-batch halves of the preprocessing for ``cfg``.

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
    augment = T.Compose([T.RandomHorizontalFlip()]) if train else None
    geometry = T.Compose([T.Lambda(_to_rgb), T.PILToTensor(), *geometry])
    return ImageTransform(geometry, BatchNormalize.from_config(cfg), augment)


def _to_rgb(img: Image.Image) -> Image.Image:
    return img if img.mode == "RGB" else img.convert("RGB")
