"""Every entry builds at full size with random weights and gives (1, num_features) at its native resolution;
every implementation also runs as a tiny variant (``depth=1`` and narrow) at the native resolution."""

from __future__ import annotations

import gc

import pytest
import torch
from backbone_fixtures import impl_pairs, tiny_kwargs

from emozoo.backbones import BACKBONES, create_backbone, list_backbones
from emozoo.backbones.info import describe_backbone

BIG = 50e6  # parameters; above this a full-size build is marked slow (still run in CI)


def _full_size_params():
    for name in list_backbones():
        marks = [pytest.mark.slow] if describe_backbone(name).params > BIG else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", _full_size_params())
def test_full_size_forward(name):
    spec = BACKBONES.get(name)
    torch.manual_seed(0)
    bb = create_backbone(name).eval()
    _, h, w = bb.data_config.input_size
    # bf16 autocast: the shape check does not need fp32, and the So400m@512 forward halves on CPUs with bf16
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = bb(torch.randn(1, 3, h, w))
    assert out.shape == (1, spec.num_features) == (1, bb.num_features)
    assert torch.isfinite(out.float()).all()
    del bb
    gc.collect()


PAIRS = impl_pairs()


@pytest.mark.parametrize(("name", "impl"), PAIRS)
def test_tiny_variant_at_native_resolution(name, impl):
    with torch.device("meta"):
        native = create_backbone(name, impl=impl).data_config.input_size
    kwargs = {**tiny_kwargs(impl), "img_size": native[1]}
    bb = create_backbone(name, impl=impl, **kwargs).eval()
    assert bb.data_config.input_size == native
    with torch.no_grad():
        out = bb(torch.randn(2, *native))
    assert out.shape == (2, bb.num_features)
    assert len(bb.blocks()) == len(tiny_kwargs(impl).get("widths", [0]))


@pytest.mark.parametrize(("name", "impl"), [p for p in PAIRS if p.values[1] != "builtin"])
def test_img_size_kwarg_changes_input(name, impl):
    bb = create_backbone(name, impl=impl, **{**tiny_kwargs(impl), "img_size": 64})
    assert bb.data_config.input_size == (3, 64, 64)
    with torch.no_grad():
        assert bb(torch.randn(1, 3, 64, 64)).shape == (1, bb.num_features)


def test_vit_tiny_demo_config():
    bb = create_backbone("vit-tiny", img_size=64)
    assert bb.num_features == 192 and bb.data_config.input_size == (3, 64, 64)
    assert len(bb.blocks()) == 12


@pytest.mark.parametrize("impl", ["timm", "open_clip", "hf"])
def test_grad_checkpointing_keeps_output_and_grads(impl):
    name = "siglip2-b16-224" if impl == "hf" else "clip-vit-b16"
    kwargs = {**tiny_kwargs(impl), "depth": 2}
    torch.manual_seed(0)
    bb = create_backbone(name, impl=impl, **kwargs).train()
    x = torch.randn(2, 3, 32, 32)
    ref = bb(x)
    ref.sum().backward()
    g_ref = [p.grad.clone() for p in bb.parameters()]
    bb.zero_grad()
    bb.set_grad_checkpointing(True)
    out = bb(x)
    out.sum().backward()
    torch.testing.assert_close(out, ref)
    for p, g in zip(bb.parameters(), g_ref):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)
