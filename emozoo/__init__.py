"""emozoo: a PyTorch Lightning model zoo for fine-grained facial emotion recognition (EmoNet-Face, 40 emotions).

Public API: ``EMOTIONS``, ``list_backbones``, ``create_model``, ``load_model``, ``save_pretrained``. Heavy modules
load lazily.
"""

from __future__ import annotations

from emozoo._version import __version__
from emozoo.taxonomy import EMOTIONS, NUM_EMOTIONS

__all__ = ["EMOTIONS", "NUM_EMOTIONS", "__version__", "create_model", "list_backbones", "load_model", "save_pretrained"]


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
    if name == "save_pretrained":
        from emozoo.zoo.format import save_pretrained

        return save_pretrained
    raise AttributeError(f"module 'emozoo' has no attribute {name!r}")
