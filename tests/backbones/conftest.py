"""Fixtures for the backbone tests: a hand-built, offline HF hub cache and a tiny saved ``SiglipModel``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from backbone_fixtures import HF_TINY


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty HF hub cache in tmp_path, offline; call ``put(repo, {name: src_path})`` to add a snapshot."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_download(*args, **kwargs):
        raise AssertionError("a test tried to download from the hub")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)

    def put(repo: str, files: dict[str, Path], revision: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
        root = cache / ("models--" + repo.replace("/", "--"))
        snap = root / "snapshots" / revision
        snap.mkdir(parents=True)
        for name, src in files.items():
            shutil.copy(src, snap / name)
        (root / "refs").mkdir(exist_ok=True)
        (root / "refs" / "main").write_text(revision)
        return snap

    put.cache = cache
    return put


@pytest.fixture
def tiny_siglip_dir(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    """A tiny random ``SiglipModel`` (vision + text) saved with ``save_pretrained``; returns (dir, model)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4}
    tokens = {"vocab_size": 64, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2}  # inside the tiny vocab
    config = transformers.SiglipConfig(vision_config=HF_TINY, text_config={**text, **tokens})
    model = transformers.SiglipModel(config).eval()
    out = tmp_path / "siglip-tiny"
    model.save_pretrained(out)
    return out, model
