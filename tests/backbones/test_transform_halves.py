"""The transform built as two halves (per-sample uint8 geometry, per-batch normaliser) gives bitwise the numbers of
torchvision's whole transform, built here step by step from the same record, on a real photograph."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2 as T

from emozoo.backbones import DataConfig, create_transform
from emozoo.backbones.transforms import BatchNormalize

CONFIGS = [
    DataConfig(input_size=(3, 224, 224), crop_mode="center", crop_pct=0.875, interpolation="bicubic"),
    DataConfig(input_size=(3, 384, 384), crop_mode="squash", mean=(0.5,) * 3, std=(0.5,) * 3),
    DataConfig(input_size=(3, 64, 96), crop_mode="center", crop_pct=1.0, interpolation="bilinear"),
]


def _photos() -> list[Image.Image]:
    """skimage's astronaut (a real photograph, 512x512), a crop of it, and its grey and RGBA versions."""
    skdata = pytest.importorskip("skimage.data")
    img = Image.fromarray(skdata.astronaut())
    return [img, img.crop((40, 10, 400, 300)), img.convert("L"), img.convert("RGBA")]


def _whole(cfg: DataConfig) -> T.Compose:
    """torchvision's whole transform for ``cfg``, the way the project built it before the split."""
    _, h, w = cfg.input_size
    interp = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC}[cfg.interpolation]
    if cfg.crop_mode == "squash":
        geometry = [T.Resize((h, w), interpolation=interp, antialias=True)]
    else:
        side = int(math.floor(min(h, w) / cfg.crop_pct))
        geometry = [T.Resize(side, interpolation=interp, antialias=True), T.CenterCrop((h, w))]
    return T.Compose(
        [
            T.Lambda(lambda im: im.convert("RGB")),
            T.PILToTensor(),
            *geometry,
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean=list(cfg.mean), std=list(cfg.std)),
        ]
    )


@pytest.mark.parametrize("cfg", CONFIGS, ids=["center", "squash", "wide"])
def test_halves_equal_the_whole_transform_bitwise(cfg):
    photos = _photos()
    tf = create_transform(cfg)
    want = torch.stack([_whole(cfg)(img) for img in photos])
    samples = [tf.sample(img) for img in photos]
    assert all(s.dtype == torch.uint8 and s.shape == cfg.input_size for s in samples)
    batched = tf.batch(torch.stack(samples))  # once per batch, as the loaders do
    assert torch.equal(batched, want)
    assert torch.equal(torch.stack([tf(img) for img in photos]), want)  # both halves on one image
    buffer = torch.full(want.shape, math.nan)
    assert tf.batch(torch.stack(samples), out=buffer) is buffer and torch.equal(buffer, want)


def test_batch_normalize_is_torchvisions_two_steps_on_every_value():
    mean, std = (0.481, 0.458, 0.408), (0.269, 0.261, 0.276)
    images = torch.arange(256, dtype=torch.uint8).repeat(3, 4, 1)  # every 8-bit value in every channel
    want = T.Normalize(list(mean), list(std))(T.ToDtype(torch.float32, scale=True)(images))
    assert torch.equal(BatchNormalize(mean, std)(images), want)
    floats = torch.rand(2, 3, 5, 5)  # already scaled floats are only normalised, as ToDtype leaves them
    torch.testing.assert_close(BatchNormalize(mean, std)(floats), T.Normalize(list(mean), list(std))(floats))


def test_training_half_flips_only_the_geometry():
    cfg = CONFIGS[0]
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    plain = create_transform(cfg).sample(img)
    train = create_transform(cfg, train=True)
    kinds = []
    for _ in range(30):
        out = train.sample(img)
        kinds.append("plain" if out.equal(plain) else "mirror" if out.equal(plain.flip(-1)) else "other")
    assert set(kinds) == {"plain", "mirror"}  # each output is the plain one or its mirror image, and both occur
