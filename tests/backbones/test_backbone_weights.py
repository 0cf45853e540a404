"""``pretrained=``: every file format round-trips exactly; library layouts convert; mismatches and missing weights
raise ``WeightsError`` with the names, paths and fetch command a user needs; nothing is ever downloaded."""

from __future__ import annotations

import warnings

import pytest
import timm
import torch
from backbone_fixtures import tiny_kwargs
from safetensors.torch import save_file

from emozoo.backbones import create_backbone
from emozoo.errors import WeightsError
from tests.conftest import HF_TINY

# (entry, impl) pairs small enough to save in four formats; together they cover every implementation
ROUND_TRIP = [("vit-tiny", "timm"), ("clip-vit-b16", "timm"), ("clip-vit-b16", "open_clip"),
              ("siglip2-b16-224", "timm"), ("siglip2-b16-224", "hf"), ("cnn-tiny", "builtin")]  # fmt: skip
FORMATS = ["safetensors", "pth", "bin", "local-dir"]


def _save(sd, tmp_path, fmt):
    if fmt == "safetensors":
        path = tmp_path / "w.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, path)
        return str(path)
    if fmt == "local-dir":
        (tmp_path / "d").mkdir()
        save_file({k: v.contiguous() for k, v in sd.items()}, tmp_path / "d" / "model.safetensors")
        return f"local-dir:{tmp_path / 'd'}"
    path = tmp_path / f"w.{fmt}"
    torch.save(sd, path)
    return str(path)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("name", "impl"), ROUND_TRIP)
def test_round_trip(tmp_path, name, impl, fmt):
    kwargs = tiny_kwargs(impl)
    torch.manual_seed(0)
    src = create_backbone(name, impl=impl, **kwargs).eval()
    src_sd = src.state_dict()
    source = _save(src_sd, tmp_path, fmt)
    torch.manual_seed(1)
    dst = create_backbone(name, impl=impl, pretrained=source, **kwargs).eval()
    assert dst.state_dict().keys() == src_sd.keys()
    for k, v in dst.state_dict().items():
        assert torch.equal(v, src_sd[k]), k
    x = torch.randn(2, *src.data_config.input_size)
    with torch.no_grad():
        assert torch.equal(dst(x), src(x))
    assert dst.pretrained_source == source


def test_timm_native_checkpoint_drops_only_the_classifier(tmp_path):
    torch.manual_seed(0)
    lib = timm.create_model("vit_tiny_patch16_224", depth=1, num_classes=1000)
    save_file(lib.state_dict(), tmp_path / "model.safetensors")
    bb = create_backbone("vit-tiny", pretrained=str(tmp_path / "model.safetensors"), depth=1)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(bb(x), lib.forward_head(lib.forward_features(x), pre_logits=True))


def test_lightning_checkpoint_with_emotion_model_keys(tmp_path):
    src = create_backbone("vit-tiny", depth=1, img_size=32)
    state = {f"model.backbone.{k}": v for k, v in src.state_dict().items()}
    state["model.head.weight"] = torch.zeros(40, 192)
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "last.ckpt")
    bb = create_backbone("vit-tiny", pretrained=str(tmp_path / "last.ckpt"), depth=1, img_size=32)
    assert torch.equal(bb.model.pos_embed, src.model.pos_embed)


def test_pos_embed_resampled_with_a_warning(tmp_path):
    src = create_backbone("vit-tiny", depth=1)  # 224 px: 14x14 grid
    save_file(src.state_dict(), tmp_path / "w.safetensors")
    with pytest.warns(UserWarning, match="resampling pos_embed"):
        bb = create_backbone("vit-tiny", pretrained=str(tmp_path / "w.safetensors"), depth=1, img_size=64)
    assert bb.model.pos_embed.shape == (1, 17, 192)


def test_open_clip_positional_embedding_resampled(tmp_path):
    kw = {**tiny_kwargs("open_clip"), "img_size": 224}
    save_file(create_backbone("clip-vit-b16", impl="open_clip", **kw).state_dict(), tmp_path / "w.safetensors")
    with pytest.warns(UserWarning, match="resampling positional_embedding"):
        bb = create_backbone(
            "clip-vit-b16", impl="open_clip", pretrained=str(tmp_path / "w.safetensors"), **{**kw, "img_size": 64}
        )
    assert bb.visual.positional_embedding.shape == (17, 64)


def test_mismatched_depth_lists_unexpected_keys(tmp_path):
    save_file(create_backbone("vit-tiny", depth=2, img_size=32).state_dict(), tmp_path / "w.safetensors")
    with pytest.raises(WeightsError) as err:
        create_backbone("vit-tiny", pretrained=str(tmp_path / "w.safetensors"), depth=1, img_size=32)
    msg = str(err.value)
    assert "unexpected (12)" in msg and "model.blocks.1." in msg and "w.safetensors" in msg and "vit-tiny" in msg


def test_mismatched_width_lists_shapes(tmp_path):
    save_file(create_backbone("clip-vit-b16", impl="open_clip", **tiny_kwargs("open_clip")).state_dict(),
              tmp_path / "w.safetensors")  # fmt: skip
    with pytest.raises(WeightsError, match=r"shape mismatch \(\d+\): visual\.\S+ \(64,?.*\) in the file vs \(96"):
        create_backbone("clip-vit-b16", impl="open_clip", pretrained=str(tmp_path / "w.safetensors"),
                        **{**tiny_kwargs("open_clip"), "width": 96})  # fmt: skip


def test_unknown_keys_are_never_dropped(tmp_path):
    sd = create_backbone("vit-tiny", depth=1, img_size=32).state_dict()
    sd["model.extra_adapter.weight"] = torch.zeros(3)
    del sd["model.norm.bias"]
    save_file(sd, tmp_path / "w.safetensors")
    with pytest.raises(WeightsError, match=r"missing \(1\): model\.norm\.bias.*unexpected \(1\): model\.extra"):
        create_backbone("vit-tiny", pretrained=str(tmp_path / "w.safetensors"), depth=1, img_size=32)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(WeightsError, match="nope.safetensors does not exist"):
        create_backbone("vit-tiny", pretrained=str(tmp_path / "nope.safetensors"))
    with pytest.raises(WeightsError, match="is not a directory"):
        create_backbone("vit-tiny", pretrained=f"local-dir:{tmp_path / 'nodir'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="no weights file in"):
        create_backbone("vit-tiny", pretrained=f"local-dir:{tmp_path / 'empty'}")


def test_unsafe_pickle_refused(tmp_path):
    torch.save({"weights": {"a": torch.zeros(1)}, "opt": warnings.WarningMessage}, tmp_path / "w.pth")
    with pytest.raises(WeightsError, match="weights_only=True"):
        create_backbone("vit-tiny", pretrained=str(tmp_path / "w.pth"))


@pytest.mark.parametrize("pretrained", [None, False, "false", "none", ""])
def test_random_init_spellings(pretrained):
    assert create_backbone("cnn-tiny", pretrained=pretrained).pretrained_source is None


def test_missing_hub_weights_message(hub_cache):
    with pytest.raises(WeightsError) as err:
        create_backbone("vit-tiny", pretrained=True, depth=1)
    msg = str(err.value)
    assert "hf-hub:timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k" in msg
    assert str(hub_cache.cache) in msg and "HF_HUB_OFFLINE" in msg
    assert "hf download timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k model.safetensors" in msg


def test_missing_hf_layout_message(hub_cache):
    with pytest.raises(WeightsError) as err:
        create_backbone("siglip2-so400m-16-384", impl="hf", pretrained=True, **tiny_kwargs("hf"))
    msg = str(err.value)
    assert "hf download google/siglip2-so400m-patch16-384 config.json model.safetensors" in msg
    assert str(hub_cache.cache) in msg


def test_no_default_weights_for_builtin():
    with pytest.raises(WeightsError, match="no default weights"):
        create_backbone("cnn-tiny", pretrained=True)


def test_offline_cache_resolves_default_weights(hub_cache, tmp_path):
    """pretrained=true finds timm's weights in a hand-built cache (models--org--name/snapshots/REV + refs/main)."""
    torch.manual_seed(0)
    lib = timm.create_model("vit_tiny_patch16_224", num_classes=1000)  # as published: with its classifier
    save_file(lib.state_dict(), tmp_path / "model.safetensors")
    hub_cache("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", {"model.safetensors": tmp_path / "model.safetensors"})
    bb = create_backbone("vit-tiny", pretrained=True)
    assert torch.equal(bb.model.pos_embed, lib.pos_embed)
    bb2 = create_backbone("vit-tiny", pretrained="hf-hub:timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k")
    assert torch.equal(bb2.model.blocks[3].attn.qkv.weight, lib.blocks[3].attn.qkv.weight)


def test_offline_cache_hf_layout(hub_cache, tiny_siglip_dir):
    """The google/siglip2-* layout (full SiglipModel) from the cache; the output is get_image_features."""
    folder, ref_model = tiny_siglip_dir
    hub_cache("google/siglip2-base-patch16-224", {f: folder / f for f in ("config.json", "model.safetensors")})
    bb = create_backbone("siglip2-b16-224", impl="hf", pretrained=True, **HF_TINY).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = ref_model.get_image_features(pixel_values=x)
        ref = getattr(ref, "pooler_output", ref)  # transformers 5 returns the output object
        torch.testing.assert_close(bb(x), ref, rtol=0, atol=0)
    assert all(k.startswith("vision_model.") for k in bb.state_dict())


def test_hf_config_mismatch_names_the_field(tiny_siglip_dir):
    folder, _ = tiny_siglip_dir
    with pytest.raises(WeightsError, match=r"config.json describes another .*hidden_size=64 \(backbone has 96\)"):
        create_backbone("siglip2-b16-224", impl="hf", pretrained=f"local-dir:{folder}",
                        **{**HF_TINY, "hidden_size": 96})  # fmt: skip


def test_hf_preprocessor_config_is_read(tiny_siglip_dir):
    import json

    folder, _ = tiny_siglip_dir
    pp = {
        "image_mean": [0.4, 0.4, 0.4],
        "image_std": [0.3, 0.3, 0.3],
        "resample": 2,
        "size": {"height": 32, "width": 32},
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(pp))
    bb = create_backbone("siglip2-b16-224", impl="hf", pretrained=str(folder), **HF_TINY)
    assert bb.data_config.mean == (0.4, 0.4, 0.4) and bb.data_config.interpolation == "bilinear"
    assert bb.data_config.crop_mode == "squash"


def test_hf_impl_without_transformers_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"emozoo\[transformers\]"):
        create_backbone("siglip2-b16-224", impl="hf", **tiny_kwargs("hf"))


def test_sharded_hf_checkpoint_from_cache(hub_cache, tiny_siglip_dir, tmp_path):
    """A sharded google/-layout checkpoint (index + shards) resolves offline; only vision tensors are read."""
    import json

    from safetensors import safe_open

    folder, ref_model = tiny_siglip_dir
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (safe_open is not iterable)
    keys = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    files = {"config.json": folder / "config.json"}
    for shard, names in shards.items():
        save_file({k: tensors[k] for k in names}, tmp_path / shard)
        files[shard] = tmp_path / shard
    index = {"weight_map": {k: shard for shard, names in shards.items() for k in names}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    files["model.safetensors.index.json"] = tmp_path / "model.safetensors.index.json"
    hub_cache("google/siglip2-so400m-patch16-384", files)
    bb = create_backbone("siglip2-so400m-16-384", impl="hf", pretrained=True, **HF_TINY).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(bb(x), ref_model.vision_model(pixel_values=x).pooler_output, rtol=0, atol=0)


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
def test_text_tower_is_never_read(tiny_siglip_dir, tmp_path, fmt):
    from emozoo.backbones.readers import read_state_dict

    folder, model = tiny_siglip_dir
    path = folder / "model.safetensors"
    if fmt == "pth":
        path = tmp_path / "full.pth"
        torch.save(model.state_dict(), path)
    sd = read_state_dict(path)
    assert sd and all(k.startswith("vision_model.") for k in sd)


@pytest.mark.parametrize(
    ("impl", "kwargs", "needle"),
    [
        ("timm", {"checkpoint_path": "/etc/passwd"}, "'checkpoint_path' is not a timm constructor kwarg"),
        ("timm", {"pretrained_cfg_overlay": {"file": "/etc/passwd"}}, "pretrained_cfg_overlay"),
        ("timm", {"img_szie": 32}, "did you mean 'img_size'"),
        ("timm", {"depth": 10**6}, "depth=1000000 must be an integer in [1, 256]"),
        ("timm", {"drop_path_rate": float("nan")}, "drop_path_rate=nan must be a finite number"),
        ("open_clip", {"timm_model_name": "hf-hub:attacker/evil"}, "timm_model_name"),
        ("hf", {"attn_implementation": "kernels-community/evil"}, "attn_implementation"),
    ],
)
def test_constructor_kwargs_pass_an_allowlist(impl, kwargs, needle):
    """Experiment files and model folders choose kwargs; none that reads a file or names a repo reaches a library."""
    from emozoo.errors import ConfigError

    name = {"timm": "vit-tiny", "open_clip": "clip-vit-b16", "hf": "siglip2-b16-224"}[impl]
    with pytest.raises(ConfigError) as err:
        create_backbone(name, impl=impl, **kwargs)
    assert needle in str(err.value) and "\n" not in str(err.value), str(err.value)
