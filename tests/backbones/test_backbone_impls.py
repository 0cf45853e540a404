"""Two implementations of one entry, loaded with the same weights, give the same embedding.

The embedding is the joint-space image embedding for CLIP (projection included: ``encode_image`` unnormalised)
and the attention-pool output for SigLIP2 (HF ``get_image_features``). Weights are converted between layouts by
the loaders themselves (open_clip → timm through timm's checkpoint filter; HF → timm through ours).
"""

from __future__ import annotations

import open_clip
import pytest
import torch
from backbone_fixtures import TIMM_TINY_SIGLIP
from safetensors.torch import save_file

from emozoo.backbones import create_backbone
from tests.conftest import HF_TINY


def _bf16_close(a: torch.Tensor, b: torch.Tensor) -> None:
    """bf16 keeps 8 mantissa bits: compare relative to the embedding's scale."""
    err = (a.float() - b.float()).norm() / b.float().norm()
    assert err < 2e-2, f"relative error {err:.3g}"
    assert torch.nn.functional.cosine_similarity(a.float(), b.float()).min() > 0.999


@pytest.mark.slow
def test_clip_b16_timm_equals_open_clip(tmp_path):
    torch.manual_seed(0)
    oc = create_backbone("clip-vit-b16", impl="open_clip").eval()
    # a full open_clip checkpoint: vision tower plus (a stub of) the text tower, which both loaders skip
    sd = dict(oc.state_dict())
    sd.update(
        {"token_embedding.weight": torch.zeros(8, 4), "logit_scale": torch.ones(()), "ln_final.weight": torch.ones(4)}
    )
    save_file(sd, tmp_path / "open_clip_model.safetensors")
    tm = create_backbone("clip-vit-b16", impl="timm", pretrained=str(tmp_path / "open_clip_model.safetensors")).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ref = oc(x)
        torch.testing.assert_close(tm(x), ref, rtol=1e-4, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _bf16_close(tm(x), ref)


@pytest.mark.slow
def test_open_clip_tower_equals_open_clip_encode_image():
    """Our vision-only build is open_clip's own model minus the text tower."""
    torch.manual_seed(0)
    full = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None).eval()
    bb = create_backbone("clip-vit-b16", impl="open_clip").eval()
    bb.load_state_dict({k: v for k, v in full.state_dict().items() if k.startswith("visual.")})
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(bb(x), full.encode_image(x), rtol=0, atol=0)
    assert sum(p.numel() for p in bb.parameters()) == sum(p.numel() for p in full.visual.parameters())


def test_tiny_clip_timm_equals_open_clip(tmp_path):
    kw = {"depth": 2, "img_size": 32}
    torch.manual_seed(0)
    oc = create_backbone("clip-vit-b16", impl="open_clip", width=64, head_width=32, **kw).eval()
    torch.save(oc.state_dict(), tmp_path / "w.bin")
    tm = create_backbone(
        "clip-vit-b16", impl="timm", embed_dim=64, num_heads=2, pretrained=str(tmp_path / "w.bin"), **kw
    )
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(tm.eval()(x), oc(x), rtol=1e-5, atol=1e-5)


def test_siglip_hf_equals_get_image_features_and_timm(tiny_siglip_dir):
    """HF impl = get_image_features exactly; timm impl loads the same google/-layout files and agrees."""
    folder, ref_model = tiny_siglip_dir
    hf = create_backbone("siglip2-b16-224", impl="hf", pretrained=f"local-dir:{folder}", **HF_TINY).eval()
    tm = create_backbone(
        "siglip2-b16-224", impl="timm", pretrained=str(folder / "model.safetensors"), **TIMM_TINY_SIGLIP
    )
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = ref_model.get_image_features(pixel_values=x)
        ref = getattr(ref, "pooler_output", ref)
        torch.testing.assert_close(hf(x), ref, rtol=0, atol=0)
        torch.testing.assert_close(tm.eval()(x), ref, rtol=1e-5, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _bf16_close(tm(x), ref)
            _bf16_close(hf(x), ref)


def test_bare_hf_vision_model_loads_into_both(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    vm = transformers.SiglipVisionModel(transformers.SiglipVisionConfig(**HF_TINY)).eval()
    vm.save_pretrained(tmp_path / "vm")
    hf = create_backbone("siglip2-b16-224", impl="hf", pretrained=f"local-dir:{tmp_path / 'vm'}", **HF_TINY).eval()
    tm = create_backbone("siglip2-b16-224", pretrained=str(tmp_path / "vm" / "model.safetensors"), **TIMM_TINY_SIGLIP)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = vm(pixel_values=x).pooler_output
        torch.testing.assert_close(hf(x), ref, rtol=0, atol=0)
        torch.testing.assert_close(tm.eval()(x), ref, rtol=1e-5, atol=1e-5)


def test_siglip_timm_uses_tanh_gelu_like_big_vision():
    with torch.device("meta"):
        for name in ("siglip2-b16-224", "siglip2-so400m-14-224", "siglip2-so400m-16-384"):
            bb = create_backbone(name)
            assert type(bb.model.blocks[0].mlp.act).__name__ == "GELUTanh", name
