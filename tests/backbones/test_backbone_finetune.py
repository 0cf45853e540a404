"""``emozoo.finetune``: freezing, layer-wise LR decay groups, weight-decay exclusions, compile helper."""

from __future__ import annotations

import pytest
import torch
from backbone_fixtures import tiny_kwargs
from torch import nn

from emozoo.backbones import create_backbone
from emozoo.errors import ConfigError
from emozoo.finetune import apply_freeze, maybe_compile, param_groups, parse_freeze


class _Model(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Linear(backbone.num_features if backbone else 8, 16), nn.LayerNorm(16))


def _vit(depth=3):
    return create_backbone("vit-tiny", depth=depth, img_size=32)


def _trainable(module):
    return {n for n, p in module.named_parameters() if p.requires_grad}


def test_freeze_all_and_none():
    bb = _vit()
    assert apply_freeze(bb, "all") == 0 and not _trainable(bb)
    assert apply_freeze(bb, "none") == sum(p.numel() for p in bb.parameters())
    assert apply_freeze(bb, None) == sum(p.numel() for p in bb.parameters())


def test_freeze_last_n_blocks():
    bb = _vit(depth=4)
    apply_freeze(bb, "last_n_blocks=2")
    names = _trainable(bb)
    assert {n.split(".")[2] for n in names if n.startswith("model.blocks.")} == {"2", "3"}
    assert "model.norm.weight" in names  # the final norm after the trained blocks trains too
    assert not names & {"model.pos_embed", "model.cls_token", "model.patch_embed.proj.weight"}
    apply_freeze(bb, "last_n_blocks=0")
    assert _trainable(bb) == {"model.norm.weight", "model.norm.bias"}


def test_freeze_open_clip_keeps_projection_with_the_last_group():
    bb = create_backbone("clip-vit-b16", impl="open_clip", **{**tiny_kwargs("open_clip"), "depth": 2})
    apply_freeze(bb, "last_n_blocks=1")
    names = _trainable(bb)
    assert "visual.proj" in names and "visual.ln_post.weight" in names
    assert "visual.class_embedding" not in names and "visual.conv1.weight" not in names
    assert any(n.startswith("visual.transformer.resblocks.1.") for n in names)
    assert not any(n.startswith("visual.transformer.resblocks.0.") for n in names)


@pytest.mark.parametrize("bad", ["some", "last_n_blocks", "last_n_blocks=-1", "last_n_blocks=x", "freeze"])
def test_freeze_rejects_bad_values(bad):
    with pytest.raises(ConfigError, match="all \\| none \\| last_n_blocks=N"):
        apply_freeze(_vit(1), bad)


def test_freeze_more_blocks_than_exist():
    with pytest.raises(ConfigError, match="has only 3 blocks"):
        apply_freeze(_vit(3), "last_n_blocks=4")


def test_freeze_head_only_model():
    assert apply_freeze(None, "all") == 0 and apply_freeze(None, "none") == 0
    with pytest.raises(ConfigError, match="needs a backbone"):
        apply_freeze(None, "last_n_blocks=1")
    assert parse_freeze(" Last_N_Blocks = 3 ") == 3


def test_layer_decay_rates_and_weight_decay_split():
    model = _Model(_vit(depth=3))
    groups = param_groups(model, lr=1.0, weight_decay=0.05, layer_decay=0.5, backbone_lr_scale=0.1)
    by_param = {id(p): g for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    # every trainable parameter exactly once
    assert sorted(by_param) == sorted(id(p) for p in model.parameters())
    assert sum(len(g["params"]) for g in groups) == len(named)
    # 5 depth groups: stem, 3 blocks, final; depth i gets 0.1 * 0.5 ** (4 - i)
    lr = lambda n: by_param[id(named[n])]["lr"]  # noqa: E731
    wd = lambda n: by_param[id(named[n])]["weight_decay"]  # noqa: E731
    assert lr("backbone.model.patch_embed.proj.weight") == pytest.approx(0.1 * 0.5**4)
    assert lr("backbone.model.pos_embed") == pytest.approx(0.1 * 0.5**4)
    assert lr("backbone.model.blocks.0.attn.qkv.weight") == pytest.approx(0.1 * 0.5**3)
    assert lr("backbone.model.blocks.2.mlp.fc1.weight") == pytest.approx(0.1 * 0.5)
    assert lr("backbone.model.norm.weight") == pytest.approx(0.1)
    assert lr("head.0.weight") == 1.0
    assert wd("backbone.model.blocks.0.attn.qkv.weight") == 0.05 and wd("head.0.weight") == 0.05
    for n in ("backbone.model.pos_embed", "backbone.model.cls_token", "backbone.model.blocks.0.attn.qkv.bias",
              "backbone.model.blocks.0.norm1.weight", "head.1.weight", "head.0.bias"):  # fmt: skip
        assert wd(n) == 0.0, n
    torch.optim.AdamW(groups, lr=1.0).step()  # torch accepts the groups as they are


def test_no_layer_decay_and_frozen_params_excluded():
    model = _Model(_vit(depth=2))
    apply_freeze(model.backbone, "last_n_blocks=1")
    groups = param_groups(model, lr=2e-3, weight_decay=0.1, layer_decay=None)
    params = [p for g in groups for p in g["params"]]
    assert all(p.requires_grad for p in params)
    assert len(params) == sum(p.requires_grad for p in model.parameters())
    assert {g["lr"] for g in groups} == {2e-3}
    assert all(g["params"] for g in groups)


def test_param_groups_head_only_model():
    model = _Model(None)
    groups = param_groups(model, lr=1e-3, weight_decay=0.0, layer_decay=0.75)
    assert sum(len(g["params"]) for g in groups) == 4


def test_open_clip_projection_gets_the_top_rate():
    model = _Model(create_backbone("clip-vit-b16", impl="open_clip", **tiny_kwargs("open_clip")))
    groups = param_groups(model, lr=1.0, weight_decay=0.05, layer_decay=0.5)
    proj = model.backbone.visual.proj
    group = next(g for g in groups if any(p is proj for p in g["params"]))
    assert group["lr"] == 1.0 and group["weight_decay"] == 0.05
    cls = next(g for g in groups if any(p is model.backbone.visual.class_embedding for p in g["params"]))
    assert cls["lr"] == pytest.approx(0.5**2) and cls["weight_decay"] == 0.0


def test_bad_layer_decay():
    with pytest.raises(ConfigError, match="layer_decay"):
        param_groups(_Model(_vit(1)), lr=1.0, weight_decay=0.0, layer_decay=1.5)


def test_maybe_compile_keeps_state_dict_keys():
    bb = _vit(1)
    keys = list(bb.state_dict())
    assert maybe_compile(bb, False) is bb and bb._compiled_call_impl is None
    assert maybe_compile(bb, True) is bb and bb._compiled_call_impl is not None  # compiled lazily, on first call
    assert list(bb.state_dict()) == keys
