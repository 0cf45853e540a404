"""What the page shows: the photo with each face boxed and numbered, and per face two bar charts.

The charts are the 40 intensities sorted from the highest, with the top-k in a second colour, and the
distribution over the 40 in the same order. Figures are built with ``matplotlib.figure.Figure`` (no pyplot: no
global state shared between the server's threads).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from emozoo.inference.records import FacePrediction

__all__ = ["draw_faces", "face_figure", "figure_image"]

# Colour-blind-safe pair (Okabe-Ito): top-k and the rest.
TOP_COLOUR, REST_COLOUR = "#D55E00", "#56B4E9"
# The most faces one figure draws; the table lists them all.
MAX_PLOTTED = 12


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 scales its built-in font
    except TypeError:
        return ImageFont.load_default()


def draw_faces(image: Image.Image, faces: Sequence[FacePrediction]) -> Image.Image:
    """A copy of ``image`` with each face's box drawn and its number (1, 2, ...) at the top-left corner.

    A whole-image prediction (``faces="none"``) has the full frame as its box; it is drawn too, inset so it shows.
    """
    out = image.convert("RGB")  # a copy: the caller's image is untouched
    draw = ImageDraw.Draw(out)
    line = max(2, round(min(out.size) / 150))
    font = _font(max(12, round(min(out.size) / 20)))
    for number, pred in enumerate(faces, start=1):
        if pred.box is None:
            continue
        x0, y0, x1, y1 = pred.box
        x0, y0 = max(x0, line / 2), max(y0, line / 2)
        x1, y1 = min(x1, out.width - line / 2), min(y1, out.height - line / 2)
        draw.rectangle((x0, y0, x1, y1), outline=TOP_COLOUR, width=line)
        label = str(number)
        left, top, right, bottom = draw.textbbox((x0 + line, y0 + line), label, font=font)
        pad = line
        draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill=TOP_COLOUR)
        draw.text((x0 + line, y0 + line), label, fill="white", font=font)
    return out


def face_figure(faces: Sequence[tuple[str, FacePrediction]], top_k: int):
    """One row per labelled face: intensities sorted (top-k highlighted) and the distribution in that order.

    Args:
        faces: ``(label, prediction)`` pairs, e.g. ``("photo 1 · face 2", pred)``; at most ``MAX_PLOTTED`` drawn.
        top_k: how many of the highest bars to highlight.
    """
    from matplotlib.figure import Figure

    faces = list(faces)[:MAX_PLOTTED]
    rows = max(1, len(faces))
    # 72 dpi and a fixed layout: the layout engines and a finer raster double the drawing time.
    fig = Figure(figsize=(10, 6.5 * rows), dpi=96)
    axes = fig.subplots(rows, 2, squeeze=False, gridspec_kw={"wspace": 0.08, "hspace": 0.25})
    # One column of emotion names, wide enough for the longest ("Intoxication/Altered States of Consciousness").
    fig.subplots_adjust(left=0.3, right=0.98, top=1 - 0.35 / (6.5 * rows), bottom=0.6 / (6.5 * rows))
    for (label, pred), (ax_i, ax_d) in zip(faces, axes):
        highlighted = {t["emotion"] for t in pred.top(top_k)}
        order = [t["emotion"] for t in pred.top(len(pred.intensity))]  # the record's own ranking, highest first
        colours = [TOP_COLOUR if n in highlighted else REST_COLOUR for n in order]
        ys = range(len(order))
        ax_i.barh(ys, [pred.intensity[n] for n in order], color=colours)
        ax_i.set_xlim(0, 7)
        ax_i.set_xlabel("intensity (0-7)")
        ax_i.set_yticks(list(ys), order, fontsize=7)
        ax_i.invert_yaxis()
        ax_i.set_title(f"{label}: intensities, top {len(highlighted)} highlighted", fontsize=9)
        ax_d.barh(ys, [pred.distribution[n] for n in order], color=colours)
        ax_d.set_xlabel("probability")
        ax_d.set_yticks(list(ys), [])
        ax_d.invert_yaxis()
        ax_d.set_title(f"{label}: distribution", fontsize=9)
    if not faces:
        for ax in axes[0]:
            ax.set_axis_off()
    return fig


def figure_image(fig) -> Image.Image:
    """``fig`` rendered as a PNG-backed PIL image (shown at its own size, unlike a scaled ``gr.Plot``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    return Image.open(buf)
