"""``emozoo app``: a local web page to try a model on photos and webcam snapshots (Gradio, ``pip install emozoo[app]``).

Modules:

- ``models``: the models the page offers (the given one and the zoo checkpoints present here) and a bounded cache
  of the loaded ones;
- ``analyse``: one request (photos, model, faces mode, top-k) to the page's outputs, never raising: bad uploads
  become messages;
- ``render``: the photo with each face boxed and numbered, and the per-face bar charts;
- ``ui``: the Gradio page (``build_app``) and the server (``launch``), on 127.0.0.1 by default, never shared.

Gradio is imported only by ``ui``, so the rest is usable (and tested) without it.
"""

from __future__ import annotations

from emozoo.app.analyse import FACE_CHOICES, Analysis, analyse
from emozoo.app.models import ModelCache, model_choices

__all__ = ["FACE_CHOICES", "Analysis", "ModelCache", "analyse", "build_app", "launch", "model_choices"]


def __getattr__(name: str):
    # build_app and launch need gradio: import it only when they are asked for.
    if name in ("build_app", "launch"):
        from emozoo.app import ui

        return getattr(ui, name)
    raise AttributeError(f"module 'emozoo.app' has no attribute {name!r}")
