"""Transforms built from each entry's record give the native size, the right normalisation, and agree with the
library's own transform (timm ``create_transform`` / open_clip ``image_transform_v2``) on a real image."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import timm
import torch
from PIL import Image

from emozoo.backbones import BACKBONES, create_backbone, create_transform, list_backbones


def _data_config(name):
    with torch.device("meta"):
        return create_backbone(name).data_config


def _library_transform(name):
    """The transform the source library itself builds from the same record."""
    spec = BACKBONES.get(name)
    source = spec.preprocess or f"{spec.impl}:{spec.model_names[spec.impl]}"
    lib, _, ident = source.partition(":")
    if lib == "timm":
        pcfg = timm.models.get_pretrained_cfg(ident).to_dict()
        return timm.data.create_transform(**timm.data.resolve_data_config({}, pretrained_cfg=pcfg))
    model, _, tag = ident.partition("/")
    pp = open_clip.get_pretrained_cfg(model, tag)
    size = open_clip.get_model_config(model)["vision_cfg"]["image_size"]
    cfg = open_clip.transform.PreprocessCfg(
        size=size, mean=pp["mean"], std=pp["std"], interpolation=pp["interpolation"], resize_mode=pp["resize_mode"]
    )
    return open_clip.transform.image_transform_v2(cfg, is_train=False)


LIBRARY_ENTRIES = [n for n in list_backbones() if BACKBONES.get(n).impl != "builtin"]


@pytest.mark.parametrize("name", list_backbones())
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_size_and_normalisation(name, mode):
    cfg = _data_config(name)
    value = 200  # a constant image stays constant through resize and crop, so the output is exactly known
    img = Image.new("RGB", (317, 211), (value, value, value)).convert(mode)
    out = create_transform(cfg)(img)
    assert out.shape == cfg.input_size and out.dtype == torch.float32
    expected = (value / 255 - torch.tensor(cfg.mean)) / torch.tensor(cfg.std)
    torch.testing.assert_close(out.mean(dim=(1, 2)), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", LIBRARY_ENTRIES)
def test_matches_library_transform(name):
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (240, 330, 3), dtype=np.uint8))
    ours = create_transform(_data_config(name))(img)
    ref = _library_transform(name)(img)
    assert ours.shape == ref.shape
    # PIL vs tensor resizing differ by at most a couple of 8-bit levels at a few pixels
    assert (ours - ref).abs().mean() < 1e-3
    assert (ours - ref).abs().max() < 0.05


def _half_black(width=400, height=200):
    """A 2:1 image whose left quarter is black: a square centre crop removes it, a squash keeps it."""
    arr = np.full((height, width, 3), 255, dtype=np.uint8)
    arr[:, : width // 4] = 0
    return Image.fromarray(arr)


@pytest.mark.parametrize("name", ["siglip2-so400m-16-384", "clip-vit-b16"])
def test_squash_keeps_the_whole_image_crop_does_not(name):
    cfg = _data_config(name)
    out = create_transform(cfg)(_half_black())
    black = (0 - cfg.mean[0]) / cfg.std[0]
    left = out[0, :, : cfg.input_size[2] // 8].mean().item()
    if cfg.crop_mode == "squash":
        assert left == pytest.approx(black, abs=1e-3)
    else:
        assert left > 1.0  # white: the black quarter was cropped away


def test_train_transform_flips_only():
    cfg = _data_config("vit-tiny")
    ramp = np.tile(np.linspace(0, 255, 300, dtype=np.uint8)[None, :, None], (300, 1, 3))
    img = Image.fromarray(ramp)
    torch.manual_seed(0)
    plain = create_transform(cfg)(img)
    outs = [create_transform(cfg, train=True)(img) for _ in range(12)]
    assert all(torch.equal(o, plain) or torch.equal(o, plain.flip(-1)) for o in outs)
    assert any(not torch.equal(o, plain) for o in outs)  # flipped or not, nothing else random
