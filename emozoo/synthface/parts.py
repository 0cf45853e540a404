"""Drawing SynthFace's expressive parts (eyes, brows, mouth) with PIL.

Every function draws on an RGB layer through an ``ImageDraw.Draw(layer, "RGBA")`` handle, so translucent
fills blend. Geometry is in pixels of the supersampled canvas; ``g`` is the face geometry from
``synthface.render`` (centre, half width ``fw``, half height ``fh``, feature positions, colours).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["bezier", "draw_brows", "draw_eye", "draw_mouth"]

_T = np.linspace(-1.0, 1.0, 15)  # samples along an eye's width; 15 keeps the lid curves smooth at 2x supersampling


def bezier(p0, control, p2, n: int = 16) -> list[tuple[float, float]]:
    """Points of the quadratic Bezier curve from ``p0`` to ``p2``."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(control) + t**2 * np.asarray(p2)
    return [tuple(p) for p in pts.tolist()]


def _through(p0, mid, p2, n: int = 16) -> list[tuple[float, float]]:
    """A Bezier curve from ``p0`` to ``p2`` that passes through ``mid`` at its middle."""
    control = (2 * mid[0] - (p0[0] + p2[0]) / 2, 2 * mid[1] - (p0[1] + p2[1]) / 2)
    return bezier(p0, control, p2, n)


def draw_eye(layer: Image.Image, draw: ImageDraw.ImageDraw, g: dict, a: dict, x: float, wink: float) -> None:
    """One eye at horizontal centre ``x``: white, iris, pupil, catch-lights, then the lids over them."""
    ey, ew, eh = g["eye_y"], g["ew"], g["eh"]
    up = eh * (1.0 + 0.6 * a["eye_open"])  # widened eyes show white above the iris
    down = eh * (0.8 + 0.3 * a["eye_open"])
    arc = np.sqrt(1.0 - _T**2) ** 0.8  # almond shape: pointier corners than an ellipse
    xs = x + _T * ew
    y_top, y_bot = ey - up * arc, ey + down * arc
    upper = min(1.0, 0.9 * a["lid_droop"] + wink)  # share of the opening the upper lid covers
    lower = 0.5 * a["squint"] + 0.55 * a["eye_smile"] * (1.0 - _T**2)  # smiling eyes: a crescent-shaped lower lid
    line = g["line"]
    lw = max(1, round(g["unit"] * 2.2))
    if upper + lower.max() >= 0.92:  # closed: a lash line where the lids meet
        y = y_top + upper / np.maximum(upper + lower, 1e-6) * (y_bot - y_top)
        draw.line(list(zip(xs.tolist(), y.tolist())), fill=line, width=lw + 1, joint="curve")
        return
    y_up = y_top + upper * (y_bot - y_top)
    y_lo = y_bot - lower * (y_bot - y_top)
    x0, y0 = int(x - ew) - 2, int(ey - up) - 2
    size = (int(2 * ew) + 5, int(up + down) + 5)
    patch = Image.new("RGB", size, g["white"])
    pd = ImageDraw.Draw(patch)
    cross = a["eye_cross"] * (1 if x < g["cx"] else -1)  # both irises turn towards the nose
    gx = g["gaze_x"] + 0.6 * cross
    gy = a["gaze_y"] + 0.35 * a["eye_cross"] * (1 if x < g["cx"] else -1)
    ix, iy = x - x0 + gx * 0.55 * ew, ey - y0 - gy * 0.75 * eh
    ir = 0.8 * eh
    pd.ellipse((ix - ir, iy - ir, ix + ir, iy + ir), fill=g["iris"])
    pr = ir * (0.45 + 0.3 * a["pupil"])  # dilated (infatuation) to pinpoint (numbness)
    pd.ellipse((ix - pr, iy - pr, ix + pr, iy + pr), fill=(12, 10, 10))
    sr = ir * (0.18 + 0.32 * a["sparkle"])
    sx, sy = ix - 0.35 * ir, iy - 0.4 * ir
    pd.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=(255, 255, 255))
    if a["sparkle"] > 0.25:
        s2 = sr * 0.55
        pd.ellipse((ix + 0.35 * ir - s2, iy + 0.3 * ir - s2, ix + 0.35 * ir + s2, iy + 0.3 * ir + s2), fill="white")
    mask = Image.new("L", size, 0)
    opening = list(zip((xs - x0).tolist(), (y_up - y0).tolist())) + list(
        zip((xs - x0).tolist()[::-1], (y_lo - y0).tolist()[::-1])
    )
    ImageDraw.Draw(mask).polygon(opening, fill=255)
    layer.paste(patch, (x0, y0), mask)
    draw.line(list(zip(xs.tolist(), y_up.tolist())), fill=line, width=lw + 1, joint="curve")
    draw.line(list(zip(xs.tolist(), y_lo.tolist())), fill=line + (120,), width=max(1, lw - 1), joint="curve")


def draw_brows(draw: ImageDraw.ImageDraw, g: dict, a: dict) -> None:
    """Both brows (raise, furrow, inner tilt, asymmetry) and the furrow lines between them."""
    eh, ew = g["eh"], g["ew"]
    for x in (g["eye_lx"], g["eye_rx"]):
        toward = 1.0 if x < g["cx"] else -1.0  # direction of the midline
        lifted = (x > g["cx"]) == (g["side"] > 0)  # the asymmetric brow goes up on the face's chosen side
        base = g["eye_y"] - 1.95 * eh - a["brow_raise"] * 0.9 * eh
        base -= a["brow_asym"] * (1.1 * eh if lifted else -0.45 * eh)
        inner_y = base - a["brow_tilt"] * 0.85 * eh + a["brow_furrow"] * 0.6 * eh
        outer_y = base + a["brow_tilt"] * 0.3 * eh
        inner_x = x + toward * (0.95 + 0.15 * a["brow_furrow"]) * ew
        outer_x = x - toward * 1.1 * ew
        mid = ((inner_x + outer_x) / 2, (inner_y + outer_y) / 2 - 0.35 * eh - 0.15 * max(a["brow_raise"], 0) * eh)
        pts = _through((inner_x, inner_y), mid, (outer_x, outer_y), 10)
        draw.line(pts, fill=g["brow"], width=max(2, round(0.5 * eh * g["brow_width"])), joint="curve")
    if a["brow_furrow"] > 0.05:
        y = g["eye_y"] - 1.9 * eh
        for dx in (-0.07, 0.07):
            xx = g["fx"] + dx * g["fw"]
            colour = g["line"] + (int(200 * a["brow_furrow"]),)
            draw.line([(xx, y - 0.3 * eh), (xx + 0.2 * dx * g["fw"], y + 0.7 * eh)], fill=colour, width=g["thin"])


def draw_mouth(draw: ImageDraw.ImageDraw, g: dict, a: dict) -> None:
    """The mouth: corners (smile, smirk), opening (laugh, O, grimace), teeth, tongue, lip bite, pucker."""
    fw, fh, side = g["fw"], g["fh"], g["side"]
    mx = g["fx"] + side * a["mouth_side"] * 0.22 * fw
    my = g["mouth_y"]
    smile, stretch, pucker, press = a["smile"], a["mouth_stretch"], a["pucker"], a["lip_press"]
    half = 0.42 * fw * g["mouth_width"]
    half *= 1 + 0.15 * max(smile, 0) + 0.5 * stretch - 0.6 * pucker - 0.15 * press - 0.3 * a["jaw_drop"]
    lift = smile * 0.14 * fh - 0.03 * stretch * fh
    lift_l = lift + a["smirk"] * (0.14 if side < 0 else -0.02) * fh
    lift_r = lift + a["smirk"] * (0.14 if side > 0 else -0.02) * fh
    left, right = (mx - half, my - lift_l), (mx + half, my - lift_r)
    opening = fh * (
        0.17 * a["mouth_open"]
        + 0.32 * a["jaw_drop"]
        + 0.07 * stretch
        + 0.05 * a["teeth"]
        + 0.04 * a["tongue"]
        + 0.03 * a["upper_lip_raise"]
        + 0.03 * a["lip_bite"]
        + 0.05 * pucker
    )
    sneer = a["upper_lip_raise"] * 0.1 * fh
    top = _through(left, (mx + side * sneer * 0.8, my - 0.25 * opening - sneer), right)
    pout = a["lip_pout"]
    bottom = _through(left, (mx, my + 0.75 * opening + 0.03 * pout * fh), right)
    lip_w = max(1, round(fh * (0.03 - 0.018 * press + 0.03 * pucker)))
    lip = g["lip"]
    if opening > 0.012 * fh:
        draw.polygon(top + bottom[::-1], fill=(70, 24, 30))
        teeth_up = min(1.0, 1.5 * (a["teeth"] + 0.5 * max(smile, 0) * a["mouth_open"] + 0.8 * a["upper_lip_raise"]))
        teeth_lo = min(1.0, 1.2 * stretch + 0.5 * a["teeth"] * (smile <= 0.2))
        band = min(0.45 * opening, 0.06 * fh)
        if teeth_up * band > 0.006 * fh:
            low = [(x, min(y + band * teeth_up, yb)) for (x, y), (_, yb) in zip(top, bottom)]
            draw.polygon(top + low[::-1], fill=(246, 244, 236))
        if teeth_lo * band > 0.006 * fh:
            high = [(x, max(y - band * teeth_lo, yt)) for (x, y), (_, yt) in zip(bottom, top)]
            draw.polygon(bottom + high[::-1], fill=(236, 234, 226))
    draw.line(top, fill=lip, width=lip_w, joint="curve")
    draw.line(bottom, fill=lip, width=lip_w + max(1, round((0.012 + 0.03 * pout) * fh)), joint="curve")
    if pout > 0.15:  # a pushed-out lower lip wrinkles the chin
        for k in (-1, 0, 1):
            x, y = mx + k * 0.07 * fw, my + (0.2 + 0.02 * abs(k)) * fh
            draw.arc(
                (x - 0.05 * fw, y - 0.03 * fh, x + 0.05 * fw, y + 0.03 * fh),
                200,
                340,
                fill=g["line"] + (int(230 * pout),),
                width=g["thin"],
            )
    if press > 0.25:  # pressed lips bunch up at the corners
        for (cx, cy), s in ((left, -1), (right, 1)):
            draw.line(
                [(cx + s * 0.02 * fw, cy - 0.03 * fh), (cx + s * 0.02 * fw, cy + 0.03 * fh)],
                fill=g["line"] + (int(220 * press),),
                width=g["thin"],
            )
    if pucker > 0.3:  # a pursed mouth: a thick ring of lips
        rx, ry = (0.05 + 0.05 * pucker) * fw, (0.035 + 0.04 * pucker) * fh
        draw.ellipse((mx - rx, my - ry, mx + rx, my + ry), fill=(70, 24, 30), outline=lip, width=lip_w + 1)
    if pucker > 0.2:  # radial wrinkles around a pursed mouth
        for ang in np.linspace(0, 2 * np.pi, 8, endpoint=False):
            r0, r1 = 0.1 * fw, 0.16 * fw
            c, s = np.cos(ang), np.sin(ang)
            colour = g["line"] + (int(200 * pucker),)
            draw.line([(mx + r0 * c, my + r0 * s), (mx + r1 * c, my + r1 * s)], fill=colour, width=g["thin"])
    if a["tongue"] > 0.1:
        t = a["tongue"]
        ty = my + 0.75 * opening
        draw.ellipse((mx - 0.13 * fw, ty - 0.04 * fh, mx + 0.13 * fw, ty + (0.04 + 0.12 * t) * fh), fill=(214, 86, 98))
        draw.line([(mx, ty), (mx, ty + 0.1 * t * fh)], fill=(160, 50, 64), width=g["thin"])
    if a["lip_bite"] > 0.2:  # upper teeth resting on the lower lip
        by = my + 0.75 * opening
        draw.rectangle(
            (mx - 0.1 * fw, by - 0.01 * fh, mx + 0.1 * fw, by + 0.035 * a["lip_bite"] * fh), fill=(246, 244, 236)
        )
