"""Every registered head (and a tiny model per head) gives the documented outputs."""

from __future__ import annotations

import pytest
import torch

import emozoo
from emozoo.heads import HEADS, create_head


@pytest.mark.parametrize("name", HEADS.names())
def test_head_outputs(name):
    torch.manual_seed(0)
    head = create_head(name, 32)
    out = head(torch.randn(5, 32) * 10)
    assert set(out) >= {"logits", "intensity", "presence_logits", "distribution"}
    for v in out.values():
        assert v.shape == (5, 40) and torch.isfinite(v).all()
    assert out["intensity"].min() >= 0 and out["intensity"].max() <= 7
    torch.testing.assert_close(out["distribution"].sum(-1), torch.ones(5))
    out["intensity"].sum().backward()


@pytest.mark.parametrize("name", HEADS.names())
def test_model_per_head_and_head_only(name):
    model = emozoo.create_model("cnn-tiny", name)
    out = model(torch.randn(2, *model.data_config.input_size))
    assert out["intensity"].shape == (2, 40)
    head_only = emozoo.create_model(None, name, embed_dim=16)
    assert head_only.forward_embeddings(torch.randn(3, 16))["distribution"].shape == (3, 40)


def test_unknown_head_suggests():
    with pytest.raises(KeyError, match="Did you mean: mlp"):
        create_head("mpl", 8)


def test_mismatched_head_width_is_an_error():
    from emozoo.backbones import create_backbone
    from emozoo.model import EmotionModel

    with pytest.raises(ValueError, match="192-d"):
        EmotionModel(create_backbone("cnn-tiny"), create_head("mlp", 64))
