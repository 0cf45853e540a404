"""Fixtures of the app tests: a tiny model saved as a folder, a real photograph, a broken and a huge upload."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import emozoo
from emozoo.errors import ConfigError
from emozoo.inference import face_cropper


def faces_mode() -> str:
    """``all`` once the face detector is wired in, else ``none`` (whole image): the tests pass before and after."""
    try:
        face_cropper("all")
    except ConfigError:
        return "none"
    return "all"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> str:
    torch.manual_seed(0)
    model = emozoo.create_model("cnn-tiny", "mlp", backbone_args={"widths": (8, 16), "img_size": 32}).eval()
    return str(model.save_pretrained(tmp_path_factory.mktemp("app") / "cnn-tiny-test"))


@pytest.fixture(scope="session")
def photo_path(tmp_path_factory) -> str:
    skdata = pytest.importorskip("skimage.data")
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(path)  # a real photograph with one face, lossless
    return str(path)


@pytest.fixture(scope="session")
def broken_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("photos") / "broken.jpg"
    path.write_bytes(b"this is not a JPEG, only text with an image's name\n")
    return str(path)


@pytest.fixture(scope="session")
def huge_path(tmp_path_factory) -> str:
    """8000x6000 = 48 MP, over the default 40 MP cap, in a small file (one colour compresses to almost nothing)."""
    path = tmp_path_factory.mktemp("photos") / "huge.png"
    Image.new("L", (8000, 6000), 128).save(path)
    return str(path)
