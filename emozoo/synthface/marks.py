"""Drawing SynthFace's skin marks and extras with PIL: wrinkles, tints, beard, nose, tears, sweat, breath, hand.

Like ``synthface.parts``, every function draws through an ``ImageDraw.Draw(layer, "RGBA")`` handle on the face
geometry ``g`` from ``synthface.render``.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageDraw

__all__ = ["draw_drops", "draw_hand", "draw_nose", "draw_skin_marks", "scale_rgb"]


def scale_rgb(rgb, f: float) -> tuple[int, int, int]:
    """``rgb`` darkened (f < 1) or lightened (f > 1), clipped to 0..255."""
    return tuple(int(min(255, max(0, c * f))) for c in rgb)


def draw_skin_marks(draw: ImageDraw.ImageDraw, g: dict, a: dict, person: dict) -> None:
    """Lines and tints on the skin: forehead, crow's feet, smile folds, sockets, blush, dark circles, beard."""
    fx, fw, fh, eh, ey = g["fx"], g["fw"], g["fh"], g["eh"], g["eye_y"]
    line, thin = g["line"], g["thin"]
    wr = person["wrinkles"]
    forehead = min(1.0, a["forehead_lines"] + 0.6 * max(a["brow_raise"], 0) + 0.5 * max(a["brow_tilt"], 0) + 0.3 * wr)
    if forehead > 0.05:
        for k in range(3):
            y = ey - (3.0 + 0.55 * k) * eh - 0.5 * max(a["brow_raise"], 0) * eh
            draw.arc(
                (fx - 0.42 * fw, y, fx + 0.42 * fw, y + 0.5 * eh),
                200,
                340,
                fill=line + (int(170 * forehead),),
                width=thin,
            )
    folds = min(1.0, 0.35 * wr + 0.6 * max(a["smile"], 0) + 0.4 * a["nose_wrinkle"] + 0.4 * a["mouth_stretch"])
    for s in (-1, 1):
        x = fx + s * 0.16 * fw
        end = (fx + s * 0.46 * fw, g["mouth_y"] + 0.05 * fh)
        draw.line(
            [(x, g["nose_y"] - 0.03 * fh), (x + s * 0.2 * fw, g["nose_y"] + 0.12 * fh), end],
            fill=line + (int(150 * folds),),
            width=thin,
            joint="curve",
        )
    for x in (g["eye_lx"], g["eye_rx"]):
        s = 1 if x > g["cx"] else -1
        out = x + s * g["ew"]
        feet = min(1.0, 0.6 * wr + 0.7 * a["squint"])
        for dy in (-0.35, 0.1, 0.5):
            draw.line(
                [(out + s * 0.04 * fw, ey + dy * eh), (out + s * 0.14 * fw, ey + dy * 1.6 * eh)],
                fill=line + (int(140 * feet),),
                width=thin,
            )
        if a["shadow"] > 0.05:  # sinister dark eye sockets (malice)
            r = 1.7 * g["ew"]
            draw.ellipse((x - r, ey - 2.3 * eh, x + r, ey + 1.3 * eh), fill=(40, 16, 40, int(150 * a["shadow"])))
        if a["blush"] > 0.03:
            by = ey + 2.6 * eh
            draw.ellipse(
                (x - 1.1 * g["ew"], by - 0.9 * eh, x + 1.1 * g["ew"], by + 0.9 * eh),
                fill=(232, 70, 92, int(190 * a["blush"])),
            )
        if a["dark_circles"] > 0.05:
            draw.arc(
                (x - g["ew"], ey - 0.3 * eh, x + g["ew"], ey + 1.7 * eh),
                20,
                160,
                fill=(70, 40, 80, int(200 * a["dark_circles"])),
                width=max(2, round(0.35 * eh)),
            )
    if person["facial_hair"] in ("beard", "stubble"):
        alpha = 230 if person["facial_hair"] == "beard" else 70
        draw.polygon(_beard_outline(g, person["jaw"]), fill=g["hair"] + (alpha,))
    if person["facial_hair"] in ("beard", "moustache"):
        y = g["mouth_y"] - 0.085 * fh
        draw.line(
            [(fx - 0.3 * fw, y + 0.03 * fh), (fx, y - 0.01 * fh), (fx + 0.3 * fw, y + 0.03 * fh)],
            fill=g["hair"],
            width=max(2, round(0.05 * fh)),
            joint="curve",
        )


def _beard_outline(g: dict, jaw: float) -> list[tuple[float, float]]:
    """The lower face below the cheek line, following the face oval and the jaw."""
    cx, cy, fw, fh = g["cx"], g["cy"], g["fw"], g["fh"]
    t = np.linspace(-1.0, 1.0, 21)
    ellipse = cy + fh * np.sqrt(np.clip(1 - t**2, 0, 1))
    reach = np.clip((np.abs(t) * fw - 0.2 * jaw * fw) / (0.8 * jaw * fw), 0, None)  # the jaw's rounded corners
    square = cy + 0.99 * fh - 0.4 * jaw * fw * (1 - np.sqrt(np.clip(1 - reach**2, 0, 1)))
    bottom = np.where(np.abs(t) * fw <= jaw * fw, np.maximum(ellipse, square), ellipse)
    outer = list(zip((cx + t * fw).tolist(), bottom.tolist()))
    # the beard's upper edge runs under the lower lip (the mouth stays readable) and rises to the sideburns
    low = g["mouth_y"] + 0.14 * fh
    cheek_y = low - np.abs(t) ** 2.5 * (low - cy)
    inner = list(zip((cx + t * 0.98 * fw).tolist(), cheek_y.tolist()))
    return outer + inner[::-1]


def draw_nose(draw: ImageDraw.ImageDraw, g: dict, a: dict) -> None:
    fw, fh, ny = g["fw"], g["fh"], g["nose_y"] - 0.03 * a["nose_wrinkle"] * g["fh"]
    nx = g["fx"] + g["side"] * 0.05 * a["head_turn"] * fw
    shade = scale_rgb(g["skin"], 0.62)
    draw.arc((nx - 0.15 * fw, ny - 0.1 * fh, nx + 0.15 * fw, ny + 0.04 * fh), 20, 160, fill=shade, width=g["thin"] + 1)
    grow = 1 + 0.8 * a["nostril_flare"] + 0.5 * max(-a["head_down"], 0)  # chin up shows the nostrils
    for s in (-1, 1):
        x, rx, ry = nx + s * 0.085 * fw, 0.04 * fw * grow, 0.022 * fh * grow
        draw.ellipse((x - rx, ny - ry, x + rx, ny + ry), fill=scale_rgb(g["skin"], 0.45))
    if a["nose_wrinkle"] > 0.05:
        for k in range(3):
            y = g["eye_y"] + (0.6 + 0.45 * k) * g["eh"]
            draw.line(
                [(nx - 0.08 * fw, y), (nx + 0.08 * fw, y)],
                fill=g["line"] + (int(230 * a["nose_wrinkle"]),),
                width=g["thin"],
            )


def draw_drops(draw: ImageDraw.ImageDraw, g: dict, a: dict) -> None:
    """Tears under the eyes, sweat drops on the forehead, a puff of breath beside the mouth."""
    fh, eh, thin = g["fh"], g["eh"], g["thin"]
    if a["sigh"] > 0.12:
        x, y = g["fx"] + g["side"] * 0.45 * g["fw"], g["mouth_y"]
        for k in range(3):
            r = (0.04 + 0.025 * k) * fh * (0.6 + 0.4 * a["sigh"])
            x += g["side"] * 1.6 * r
            draw.ellipse(
                (x - r, y - r, x + r, y + r),
                fill=(235, 245, 255, int(200 * a["sigh"])),
                outline=(150, 170, 200, int(230 * a["sigh"])),
            )
    if a["tears"] > 0.12:
        t = a["tears"]
        for x in (g["eye_lx"], g["eye_rx"]):
            y0, y1 = g["eye_y"] + eh, g["eye_y"] + eh + 0.4 * t * fh
            draw.line([(x, y0), (x + 0.02 * g["fw"], y1)], fill=(150, 205, 255, 230), width=thin + 1)
            r = (0.02 + 0.025 * t) * fh
            draw.ellipse((x - r, y1 - r, x + r, y1 + 1.3 * r), fill=(150, 205, 255, 240), outline=(70, 130, 210))
    if a["sweat"] > 0.12:
        s = a["sweat"]
        for k, side in enumerate((g["side"], -g["side"])):
            if k == 1 and s < 0.5:
                break
            x, y, r = g["cx"] + side * 0.6 * g["fw"], g["cy"] - 0.42 * fh + k * 0.1 * fh, (0.03 + 0.04 * s) * fh
            draw.polygon([(x, y - 2.2 * r), (x - r, y), (x + r, y)], fill=(175, 220, 252))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(175, 220, 252), outline=(80, 140, 210))
            draw.ellipse((x - 0.45 * r, y - 0.5 * r, x - 0.05 * r, y - 0.1 * r), fill=(255, 255, 255))


def draw_hand(draw: ImageDraw.ImageDraw, mask: ImageDraw.ImageDraw, g: dict, h: float) -> None:
    """A fist under the chin (contemplation); weaker intensities hold it lower and smaller."""
    fw, fh = g["fw"], g["fh"]
    size = 0.6 + 0.4 * h
    x, y = g["cx"] + g["side"] * 0.28 * fw, g["cy"] + (1.0 + 0.3 * (1 - h)) * fh
    rx, ry = 0.3 * fw * size, 0.22 * fh * size
    colour = scale_rgb(g["skin"], 0.95)
    arm = [(x - 0.8 * rx, y), (x + 0.8 * rx, y), (x + 1.1 * rx + 0.5 * fw, g["canvas"]), (x - 0.6 * rx, g["canvas"])]
    for d in (draw, mask):
        fill = 255 if d is mask else colour
        d.polygon(arm, fill=fill)
        d.rounded_rectangle((x - rx, y - ry, x + rx, y + ry), radius=int(0.6 * ry), fill=fill)
    draw.rounded_rectangle((x - rx, y - ry, x + rx, y + ry), radius=int(0.6 * ry), outline=g["line"], width=g["thin"])
    for k in (-1, 0, 1):
        draw.line([(x + k * 0.5 * rx, y - ry), (x + k * 0.5 * rx, y - 0.2 * ry)], fill=g["line"], width=g["thin"])
