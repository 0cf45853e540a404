"""Fixtures for the backbone tests: a tiny saved ``SiglipModel`` (the offline HF cache is ``hub_cache`` in tests/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import HF_TINY


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
