"""Shared constants for the backbone tests: tiny variants of every implementation, (entry, impl) pairs."""

from __future__ import annotations

import pytest

# Shrink kwargs per implementation: same architecture family, a fraction of the compute. `depth` and `img_size`
# are understood by every implementation; widths use each library's own names.
TINY = {
    "timm": {"depth": 1, "embed_dim": 64, "num_heads": 2, "img_size": 32},
    "open_clip": {"depth": 1, "width": 64, "head_width": 32, "img_size": 32},
    "hf": {"depth": 1, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2, "img_size": 32},
    "builtin": {"widths": (8, 16), "img_size": 32},
}
# Tiny SigLIP in both layouts: the HF config (``HF_TINY`` in tests/conftest.py) and the timm kwargs that describe
# the same network.
TIMM_TINY_SIGLIP = {"embed_dim": 64, "depth": 2, "num_heads": 4, "mlp_ratio": 2.0, "img_size": 32, "patch_size": 8}


def tiny_kwargs(impl: str) -> dict:
    return dict(TINY[impl])


def impl_pairs() -> list:
    """(name, impl) for every registry entry and implementation; ``hf`` skipped without transformers."""
    import importlib.util

    from emozoo.backbones import BACKBONES, list_backbones

    no_hf = pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs emozoo[transformers]")
    return [
        pytest.param(name, impl, marks=[no_hf] if impl == "hf" else [], id=f"{name}-{impl}")
        for name in list_backbones()
        for impl in BACKBONES.get(name).impls
    ]
