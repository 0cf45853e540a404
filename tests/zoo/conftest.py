"""Fixtures for the zoo tests: tiny releases and model folders, images (``hub_cache``, ``HF_TINY``: tests/conftest)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from emozoo.taxonomy import EXTRA_HEAD_SLUGS, SLUGS
from tests.conftest import HF_TINY


class ReferenceMLP(nn.Module):
    """A published head as the authors' training code defines it: ``layers`` = Linear/ReLU/Dropout ..."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                layers += [nn.ReLU(), nn.Dropout(0.1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def write_release(directory: Path, hidden: tuple[int, ...], width: int, extras: bool = True, means: bool = True):
    """Write Empathic-Insight-style ``.pth`` heads (and neutral means); returns ``{slug: ReferenceMLP}``."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    refs = {}
    for slug in list(SLUGS) + (list(EXTRA_HEAD_SLUGS.values()) if extras else []):
        refs[slug] = ReferenceMLP((width, *hidden, 1)).eval()
        torch.save(refs[slug].state_dict(), directory / f"model_{slug}_best.pth")
    if means:
        (directory / "neutral_means.json").write_text(
            json.dumps({f"model_{s}_best": 0.05 * i for i, s in enumerate(SLUGS)})
        )
    return refs


def release_files(directory: Path) -> dict[str, Path]:
    return {p.name: p for p in directory.iterdir() if p.is_file()}


@pytest.fixture
def tiny_siglip(tmp_path: Path):
    """A tiny random ``SiglipModel`` saved in the google/siglip2-* layout; returns (folder, model)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4}
    tokens = {"vocab_size": 64, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2}
    model = transformers.SiglipModel(transformers.SiglipConfig(vision_config=HF_TINY, text_config={**text, **tokens}))
    out = tmp_path / "siglip-tiny"
    model.eval().save_pretrained(out)
    return out, model


def image_bytes(seed: int, size: int = 40, fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size + 8, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """A saved cnn-tiny + mlp model at 32x32 (random weights)."""
    from emozoo.model import create_model
    from emozoo.zoo import save_pretrained

    torch.manual_seed(0)
    model = create_model("cnn-tiny", "mlp", backbone_args={"widths": (8, 16), "img_size": 32})
    return save_pretrained(model.eval(), tmp_path / "tiny-model")
