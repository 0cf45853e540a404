"""Drawing results on a photo: a numbered box per face and its top emotions beside it (PIL only)."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

__all__ = ["annotate"]

# distinct, colour-blind-friendly box colours (Okabe-Ito), cycled by face number
_COLOURS = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0), (204, 121, 167))


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 scales its built-in font
    except TypeError:  # pragma: no cover - older Pillow
        return ImageFont.load_default()


def annotate(
    image: Image.Image, faces: Sequence[tuple[Sequence[float], Sequence[str]]], *, first_number: int = 0
) -> Image.Image:
    """A copy of ``image`` with each face's box, its number and its label lines drawn on it.

    Args:
        image: the original photo (any mode; drawn on an RGB copy).
        faces: ``(box, label_lines)`` per face: box (x0, y0, x1, y1) in ``image``'s pixels, label lines such as
            ``["joy 5.1", "amusement 3.2", "pride 1.0"]`` (the top-3 emotions).
        first_number: the number of the first face (the ``face`` index of the records).
    """
    out = image.convert("RGB")  # convert() always copies
    draw = ImageDraw.Draw(out)
    # sizes follow the photo, so labels stay legible on a 4000 px original and don't swamp a 300 px one
    unit = max(1, round(max(out.size) / 600))
    font = _font(11 * unit)
    for i, (box, lines) in enumerate(faces):
        colour = _COLOURS[i % len(_COLOURS)]
        x0, y0, x1, y1 = (float(v) for v in box)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=2 * unit)
        text = "\n".join([f"#{first_number + i}", *lines])
        left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font)
        w, h = right - left + 4 * unit, bottom - top + 4 * unit
        # below the box if it fits, else above it, else inside its top edge
        ty = y1 + unit if y1 + unit + h <= out.height else (y0 - h - unit if y0 - h - unit >= 0 else y0)
        tx = min(max(0.0, x0), max(0.0, out.width - w))
        draw.rectangle((tx, ty, tx + w, ty + h), fill=(0, 0, 0))
        draw.multiline_text((tx + 2 * unit - left, ty + 2 * unit - top), text, fill=colour, font=font)
    return out
