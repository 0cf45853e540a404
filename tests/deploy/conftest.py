"""Fixtures for the deploy tests: one tiny model per backbone family of the registry, real-looking face images."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.zoo.conftest import tiny_siglip  # noqa: F401  (a fixture)

# Without the [onnx] extra there is nothing to test here (make test installs it, so CI runs these).
collect_ignore_glob = [] if all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")) else ["test_*.py"]

PARITY_ATOL = 1e-4  # the guarantee in README "Deploy with ONNX": fp32 ONNX equals torch to 1e-4


def family(name: str, impl: str) -> tuple[str, str]:
    """(implementation, architecture) of a registry entry: entries of one family export the same graph ops."""
    from emozoo.backbones import BACKBONES

    model_name = BACKBONES.get(name).model_names[impl].lower()
    kind = next((k for k in ("siglip", "clip") if k in model_name), None)
    if kind is None:
        kind = "clip" if impl == "open_clip" else "vit" if "vit" in model_name else model_name
    return impl, kind


def families() -> list:
    """One (entry, impl) per family, the first entry by name: a new family is tested the day it is registered."""
    import importlib.util

    from emozoo.backbones import BACKBONES, list_backbones

    picked: dict[tuple[str, str], str] = {}
    for name in list_backbones():
        for impl in BACKBONES.get(name).impls:
            picked.setdefault(family(name, impl), name)
    no_hf = pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs emozoo[transformers]")
    params = []
    for (impl, kind), name in sorted(picked.items()):
        marks = [] if impl == "builtin" else [pytest.mark.slow]  # an export takes seconds; the CNN runs always
        marks += [no_hf] if impl == "hf" else []
        params.append(pytest.param(name, impl, marks=marks, id=f"{impl}-{kind}"))
    return params


def tiny_model(name: str, impl: str):
    """A registry entry at tiny size (tests/backbones' TINY kwargs: one block, 32x32 input), random weights."""
    from emozoo.model import create_model
    from tests.backbones.backbone_fixtures import tiny_kwargs

    torch.manual_seed(0)
    return create_model(name, "mlp", impl=impl, backbone_args=tiny_kwargs(impl)).eval()


def face_images(n: int, seed: int = 0, size: int = 96) -> list[Image.Image]:
    """SynthFace renderings: faces with skin, hair and background, unlike noise (emozoo.synthface)."""
    from emozoo.synthface.actions import actions_from_latent
    from emozoo.synthface.latent import sample_latent
    from emozoo.synthface.people import sample_person, sample_scene
    from emozoo.synthface.render import render_face

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        latent = sample_latent(rng)
        pixels = render_face(actions_from_latent(latent, rng), sample_person(rng), sample_scene(rng), size)
        out.append(Image.fromarray(pixels))
    return out


def assert_parity(want: dict[str, torch.Tensor], got: dict[str, torch.Tensor], atol: float = PARITY_ATOL) -> None:
    """The same output names in the same order, every value within ``atol``."""
    assert list(got) == list(want)
    for key in want:
        assert got[key].dtype == torch.float32 and got[key].shape == want[key].shape, key
        torch.testing.assert_close(got[key], want[key], atol=atol, rtol=0, msg=lambda m, k=key: f"{k}: {m}")


@pytest.fixture
def tiny_cnn(tmp_path: Path):
    """(cnn-tiny model, its exported model.onnx)."""
    from emozoo.deploy import export_onnx

    model = tiny_model("cnn-tiny", "builtin")
    return model, export_onnx(model, tmp_path / "cnn")
