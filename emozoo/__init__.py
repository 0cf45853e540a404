"""emozoo: a PyTorch Lightning model zoo for fine-grained facial emotion recognition (EmoNet-Face, 40 emotions).

Public API: ``EMOTIONS``, ``list_backbones``, ``create_model``, ``load_model``, ``save_pretrained``, ``predict``,
``evaluate``. Heavy modules load lazily, so that ``import emozoo`` stays light.
"""

from __future__ import annotations

from emozoo._version import __version__
from emozoo.taxonomy import EMOTIONS, NUM_EMOTIONS

__all__ = [
    "EMOTIONS",
    "NUM_EMOTIONS",
    "__version__",
    "create_model",
    "evaluate",
    "list_backbones",
    "load_model",
    "predict",
    "save_pretrained",
]


def __getattr__(name: str):
    if name == "list_backbones":
        from emozoo.backbones import list_backbones

        return list_backbones
    if name == "create_model":
        from emozoo.model import create_model

        return create_model
    if name == "load_model":
        from emozoo.zoo.pretrained import load_model

        return load_model
    if name in ("predict", "evaluate"):
        from emozoo import inference

        return getattr(inference, name)
    if name == "save_pretrained":
        from emozoo.zoo.format import save_pretrained

        return save_pretrained
    raise AttributeError(f"module 'emozoo' has no attribute {name!r}")
