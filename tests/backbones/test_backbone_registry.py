"""Every registry entry, every implementation: records agree with timm's and open_clip's own, built on ``meta``."""

from __future__ import annotations

import open_clip
import pytest
import timm
import torch
from backbone_fixtures import impl_pairs

from emozoo.backbones import BACKBONES, create_backbone, list_backbones
from emozoo.backbones.info import describe_backbone
from emozoo.registry import UnknownNameError

PAIRS = impl_pairs()


def _meta(name: str, impl: str):
    with torch.device("meta"):
        return create_backbone(name, impl=impl)


def test_required_entries_registered():
    required = {
        "siglip2-so400m-16-384", "siglip2-so400m-16-256", "siglip2-so400m-16-512", "siglip2-so400m-14-224",
        "siglip2-b16-224", "clip-vit-b16", "clip-vit-l14", "clip-vit-l14-336", "vit-b16", "vit-l16", "vit-tiny",
        "cnn-tiny",
    }  # fmt: skip
    assert required <= set(list_backbones())
    assert list_backbones("siglip2-so400m-*") == [n for n in sorted(required) if n.startswith("siglip2-so400m-")]


@pytest.mark.parametrize(("name", "impl"), PAIRS)
def test_meta_build_matches_record(name, impl):
    spec = BACKBONES.get(name)
    model = _meta(name, impl)
    assert model.num_features == spec.num_features
    assert model.impl == impl and model.name == name
    params = sum(p.numel() for p in model.parameters())
    assert params > 0
    # every implementation gets the same preprocessing: swapping impl never changes the input
    assert model.data_config == _meta(name, spec.impl).data_config
    groups = model.param_groups_by_depth()
    assert sum(len(g) for g in groups) == len(list(model.parameters()))


@pytest.mark.parametrize("name", [n for n in list_backbones() if "timm" in BACKBONES.get(n).impls])
def test_timm_record(name):
    spec = BACKBONES.get(name)
    timm_name = spec.model_names["timm"]
    assert timm_name in timm.list_pretrained(), f"{timm_name} is not a pretrained timm model"
    pcfg = timm.models.get_pretrained_cfg(timm_name)
    assert spec.weights["timm"] == f"hf-hub:{pcfg.hf_hub_id}".rstrip("/")


@pytest.mark.parametrize("name", [n for n in list_backbones() if "open_clip" in BACKBONES.get(n).impls])
def test_open_clip_record(name):
    spec = BACKBONES.get(name)
    oc_name = spec.model_names["open_clip"]
    assert oc_name in open_clip.list_models()
    hub = spec.weights["open_clip"].removeprefix("hf-hub:")
    tags = [t for n, t in open_clip.list_pretrained() if n == oc_name]
    assert any(open_clip.get_pretrained_cfg(oc_name, t)["hf_hub"].strip("/") == hub for t in tags)


@pytest.mark.parametrize("name", [n for n in list_backbones() if "hf" in BACKBONES.get(n).impls])
def test_hf_record(name):
    spec = BACKBONES.get(name)
    assert spec.weights["hf"] == f"hf-hub:{spec.model_names['hf']}"
    assert spec.model_names["hf"].startswith("google/siglip2-")


@pytest.mark.parametrize("name", list_backbones("clip-*"))
def test_clip_uses_quick_gelu_in_every_impl(name):
    # OpenAI CLIP was trained with QuickGELU; nn.GELU silently shifts every embedding
    timm_bb = _meta(name, "timm")
    assert type(timm_bb.model.blocks[0].mlp.act).__name__ == "QuickGELU"
    oc_bb = _meta(name, "open_clip")
    assert type(oc_bb.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"


@pytest.mark.parametrize("name", list_backbones("siglip2-*"))
def test_siglip_preprocessing_squashes_clip_crops(name):
    cfg = _meta(name, "timm").data_config
    assert cfg.crop_mode == "squash" and cfg.crop_pct == 1.0
    assert cfg.mean == (0.5, 0.5, 0.5) and cfg.std == (0.5, 0.5, 0.5)
    size = int(name.rsplit("-", 1)[1])
    assert cfg.input_size == (3, size, size)


@pytest.mark.parametrize("name", list_backbones("clip-*"))
def test_clip_preprocessing_crops(name):
    cfg = _meta(name, "open_clip").data_config
    assert cfg.crop_mode == "center" and cfg.crop_pct == 1.0
    assert cfg.mean == pytest.approx(open_clip.OPENAI_DATASET_MEAN)


def test_no_text_tower_in_open_clip_impl():
    bb = _meta("clip-vit-l14", "open_clip")
    full = open_clip.get_model_config("ViT-L-14-quickgelu")
    assert not any(n.startswith(("transformer.", "token_embedding", "text")) for n, _ in bb.named_parameters())
    assert all(n.startswith("visual.") for n, _ in bb.named_parameters())
    assert full["text_cfg"]["width"] == 768  # the tower we did not build


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError, match="clip-vit-l14"):
        create_backbone("clip-vit-l41")


def test_unknown_impl_lists_available():
    with pytest.raises(ValueError, match="timm, open_clip"):
        create_backbone("clip-vit-b16", impl="hf")


def test_describe_backbone_counts_parameters_without_memory():
    info = describe_backbone("siglip2-so400m-16-384")
    assert info.num_features == 1152 and info.input_size == (3, 384, 384)
    assert 420e6 < info.params < 440e6
    assert info.weights == "hf-hub:timm/vit_so400m_patch16_siglip_384.v2_webli"
