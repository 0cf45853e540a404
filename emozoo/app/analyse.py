"""One request of the page: photos (uploaded files and/or a webcam snapshot), a model, a faces mode and top-k in;
annotated photos, per-face charts, a table of faces and messages out.

``analyse`` never raises: a file that is not an image, an image over the pixel cap, a photo without a face, a
model that cannot be loaded or an unavailable faces mode each become a one-line message on the page, and the other
photos are still scored. The server and its cache of loaded models carry on as they were.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from emozoo.app.models import ModelCache
from emozoo.app.render import draw_faces, face_figure, figure_image
from emozoo.errors import EmozooError
from emozoo.images import load_image
from emozoo.inference import FacePrediction, face_cropper, predict

__all__ = ["FACE_CHOICES", "Analysis", "analyse"]

log = logging.getLogger("emozoo.app")

# The page's faces control: label -> ``faces=`` mode of ``emozoo.inference.predict``.
FACE_CHOICES = {"all faces": "all", "largest face": "largest", "whole image": "none"}
# Longest side of the annotated photos sent back to the browser: a 40 MP photo would be slow to send and show.
DISPLAY_SIDE = 1280


@dataclass
class Analysis:
    """The page's outputs for one request.

    Attributes:
        photos: ``(annotated photo, caption)`` per photo that was read.
        faces: ``(label, prediction)`` per face found, in photo order.
        messages: one line per problem (unreadable file, no face, model or mode unavailable).
        seconds: time from request to outputs (reading, scoring, drawing; not the charts).
        summary: one line saying what was done, for the page and the log.
    """

    photos: list[tuple[Image.Image, str]] = field(default_factory=list)
    faces: list[tuple[str, FacePrediction]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0
    summary: str = ""

    def table_html(self) -> str:
        """The faces as an HTML table: photo, face number, top emotion (intensity, probability), top-k."""
        if not self.faces:
            return '<p id="emozoo-faces-none">No faces scored yet.</p>'
        rows = []
        for label, pred in self.faces:
            top = pred.top_k[0]
            others = ", ".join(f"{t['emotion']} {t['intensity']:.2f}" for t in pred.top_k[1:])
            photo = html.escape(Path(pred.image).name)
            rows.append(
                f'<tr class="emozoo-face" data-photo="{photo}" data-face="{pred.face + 1}" '
                f'data-top="{html.escape(top["emotion"])}"><td>{html.escape(label)}</td>'
                f'<td class="emozoo-top"><b>{html.escape(top["emotion"])}</b></td>'
                f"<td>{top['intensity']:.2f}</td><td>{top['probability']:.3f}</td><td>{html.escape(others)}</td></tr>"
            )
        head = "<tr><th>face</th><th>top emotion</th><th>intensity (0-7)</th><th>probability</th><th>next</th></tr>"
        return f'<table id="emozoo-faces"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'

    def message_html(self) -> str:
        """The summary line and the messages, escaped (file names come from the user)."""
        parts = [f'<p id="emozoo-summary">{html.escape(self.summary)}</p>'] if self.summary else []
        if self.messages:
            items = "".join(f'<li class="emozoo-error">{html.escape(m)}</li>' for m in self.messages)
            parts.append(f'<ul id="emozoo-messages">{items}</ul>')
        return "".join(parts)

    def figure(self, top_k: int):
        """The per-face bar charts (None without a face)."""
        return face_figure(self.faces, top_k) if self.faces else None

    def chart(self, top_k: int) -> Image.Image | None:
        """The per-face bar charts as an image (None without a face)."""
        return figure_image(self.figure(top_k)) if self.faces else None


def _display(image: Image.Image) -> Image.Image:
    if max(image.size) > DISPLAY_SIDE:
        image = image.copy()
        image.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    return image


def _sources(files: Sequence[Any] | None, webcam: Image.Image | None) -> list[tuple[str, Any]]:
    """``(name, source)`` per photo: uploaded files (paths, or objects with ``.name``) then the snapshot."""
    found = []
    for f in files or []:
        path = f if isinstance(f, (str, Path)) else getattr(f, "name", f)
        found.append((Path(str(path)).name, path))
    if webcam is not None:
        found.append(("webcam snapshot", webcam))
    return found


def analyse(
    cache: ModelCache,
    model_name: str,
    files: Sequence[Any] | None = None,
    webcam: Image.Image | None = None,
    *,
    faces: str = "none",
    top_k: int = 5,
    max_pixels: int | None = None,
) -> Analysis:
    """Score each photo with the model ``model_name`` (from ``cache``) and gather what the page shows.

    Args:
        files: uploaded files (paths), in order.
        webcam: a webcam snapshot, scored after the files.
        faces: ``all``, ``largest`` or ``none`` (whole image), as ``emozoo.inference.predict``.
        top_k: emotions listed and highlighted per face.
        max_pixels: the pixel cap for ``emozoo.images.load_image`` (default: ``$EMOZOO_MAX_PIXELS`` or 40 MP).
    """
    start = time.perf_counter()
    out = Analysis()
    sources = _sources(files, webcam)
    if not sources:
        out.messages.append("Upload one or more photos, or take a webcam snapshot.")
        return out
    try:
        face_cropper(faces)  # an unavailable faces mode is one message, not one per photo
    except EmozooError as err:
        out.messages.append(str(err))
        return out
    try:
        model = cache.get(model_name)
    except Exception as err:  # any load failure is a message: the page and its other models stay usable
        out.messages.append(f"cannot load model {model_name}: {err}")
        log.warning("emozoo app: cannot load %s: %s", model_name, err)
        return out
    for number, (name, source) in enumerate(sources, start=1):
        try:
            image = load_image(source, max_pixels=max_pixels, name=name)
            preds = predict(model, image, faces=faces, top_k=top_k)
        except EmozooError as err:
            out.messages.append(str(err) if str(err).startswith(name) else f"{name}: {err}")
            continue
        except Exception as err:  # a bug must not take the server down; say so and keep going
            log.exception("emozoo app: %s failed", name)
            out.messages.append(f"{name}: internal error ({type(err).__name__}: {err})")
            continue
        found = [p for p in preds if p.face is not None]
        for p in found:
            p.image = name  # the records name the upload, not the in-memory placeholder
        if not found:
            out.messages.append(f"{name}: no face found; try 'whole image' to score the whole photo")
        out.photos.append((_display(draw_faces(image, found)), f"photo {number}: {name} ({len(found)} faces)"))
        out.faces += [(f"photo {number} · face {p.face + 1}", p) for p in found]
    out.seconds = time.perf_counter() - start
    out.summary = (
        f"{model_name}: {len(out.photos)} of {len(sources)} photos read, {len(out.faces)} faces, in {out.seconds:.2f} s"
    )
    log.info("emozoo app: %s", out.summary)
    return out
