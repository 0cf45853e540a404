"""``hf-hub:`` resolution when downloads are allowed, with ``hf_hub_download`` replaced by a local fake: the
cache is tried first, then the preferred file is fetched; failures explain how to fetch by hand."""

from __future__ import annotations

import shutil

import huggingface_hub
import pytest
import torch
from safetensors.torch import save_file

from emozoo.backbones import create_backbone
from emozoo.backbones.hub import hf_cache_dir, parse_hub_id
from emozoo.errors import WeightsError

REV = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture
def online(tmp_path, monkeypatch):
    """Downloads allowed; ``hf_hub_download`` serves files from a dict instead of the network."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    served: dict[tuple[str, str], object] = {}
    calls: list[tuple[str, str]] = []

    def fake_download(repo, filename, revision=None, cache_dir=None, **kwargs):
        calls.append((repo, filename))
        src = served.get((repo, filename))
        if isinstance(src, Exception):
            raise src
        if src is None:
            raise huggingface_hub.errors.EntryNotFoundError(f"{repo} has no {filename}")
        root = hf_cache_dir() / ("models--" + repo.replace("/", "--"))
        (root / "snapshots" / REV).mkdir(parents=True, exist_ok=True)
        (root / "refs").mkdir(exist_ok=True)
        (root / "refs" / "main").write_text(REV)
        shutil.copy(src, root / "snapshots" / REV / filename)
        return str(root / "snapshots" / REV / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    return served, calls


def test_downloads_the_preferred_file_once(online, tmp_path):
    served, calls = online
    src = create_backbone("vit-tiny", depth=1)
    save_file(src.state_dict(), tmp_path / "model.safetensors")
    served[("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", "model.safetensors")] = tmp_path / "model.safetensors"
    bb = create_backbone("vit-tiny", pretrained=True, depth=1)
    assert torch.equal(bb.model.pos_embed, src.model.pos_embed)
    assert calls == [("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", "model.safetensors")]
    create_backbone("vit-tiny", pretrained=True, depth=1)  # now cached: no second download
    assert len(calls) == 1


def test_falls_back_to_the_next_file_name(online, tmp_path):
    served, calls = online
    src = create_backbone("clip-vit-b16", impl="open_clip", depth=1, width=64, head_width=32, img_size=32)
    torch.save(src.state_dict(), tmp_path / "open_clip_pytorch_model.bin")
    served[("timm/vit_base_patch16_clip_224.openai", "open_clip_pytorch_model.bin")] = (
        tmp_path / "open_clip_pytorch_model.bin"
    )
    create_backbone("clip-vit-b16", impl="open_clip", pretrained=True, depth=1, width=64, head_width=32, img_size=32)
    assert [f for _, f in calls] == ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]


def test_failed_download_says_how_to_fetch(online):
    served, _ = online
    served[("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", "model.safetensors")] = OSError("connection refused")
    with pytest.raises(WeightsError, match="connection refused.*hf download timm/vit_tiny_patch16_224"):
        create_backbone("vit-tiny", pretrained=True, depth=1)


@pytest.mark.parametrize("bad", ["hf-hub:justaname", "hf-hub:a/b/c", "hf-hub:/x"])
def test_bad_hub_ids(bad):
    with pytest.raises(WeightsError, match="not a Hugging Face repo id"):
        parse_hub_id(bad)


def test_revision_is_parsed():
    assert parse_hub_id("hf-hub:google/siglip2-base-patch16-224@abc123") == (
        "google/siglip2-base-patch16-224",
        "abc123",
    )
