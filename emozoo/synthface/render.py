"""Rendering a SynthFace image with PIL: geometry, head and hair, compositing, lighting.

The expressive parts come from ``synthface.parts`` and the skin marks and extras from ``synthface.marks``.

A face is drawn on a 2x supersampled canvas (anti-aliasing for free when it is shrunk), on its own layer with
a silhouette mask so that head roll rotates the head but not the background. The face fills about half the
image width, so the cues stay legible when the image is downscaled to 64 px for the demo model.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from emozoo.synthface.actions import ACTIONS
from emozoo.synthface.marks import draw_drops, draw_hand, draw_nose, draw_skin_marks, scale_rgb
from emozoo.synthface.parts import draw_brows, draw_eye, draw_mouth

__all__ = ["SUPERSAMPLE", "render_face"]

SUPERSAMPLE = 2
_MAX_TILT_DEG = 18.0  # head roll at head_tilt = 1


def _mix(a, b, t: float) -> tuple[int, int, int]:
    t = min(1.0, max(0.0, float(t)))
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def _geometry(a: dict, person: dict, scene: dict, canvas: int) -> dict:
    """Positions, sizes and colours of one face on a ``canvas``-pixel square (the ``g`` of the drawing helpers)."""
    fw = 0.28 * canvas * scene["scale"]  # half width: the face spans ~half the image, legible at 64 px
    fh = fw * person["aspect"]
    cx = canvas * (0.5 + scene["dx"])
    cy = canvas * (0.47 + scene["dy"])
    side = scene["side"]
    drop = a["head_down"] * 0.13 * fh  # a lowered head shows the features lower in the oval
    fx = cx + side * a["head_turn"] * 0.14 * fw
    skin = _mix(person["skin"], (214, 58, 48), 0.42 * a["flush"])
    grey = sum(skin) / 3 * 1.12 + 18
    skin = _mix(skin, (grey, grey, grey * 1.02), 0.7 * a["pallor"])
    skin = _mix(skin, (110, 165, 72), 0.6 * a["green"])
    hair = _mix(person["hair"], (172, 172, 170), person["grey"])
    eye_gap = person["eye_gap"] * fw
    return {
        "canvas": canvas,
        "unit": canvas / 256,
        "thin": max(1, round(canvas / 256 * 1.6)),
        "cx": cx,
        "cy": cy,
        "fw": fw,
        "fh": fh,
        "fx": fx,
        "side": side,
        "drop": drop,
        "eye_y": cy - 0.02 * fh + drop,
        "eye_lx": fx - eye_gap,
        "eye_rx": fx + eye_gap,
        "ew": 0.25 * fw * person["eye_size"],
        "eh": 0.12 * fh * person["eye_size"],
        "nose_y": cy + 0.3 * fh + drop,
        "mouth_y": cy + 0.56 * fh + drop,
        "gaze_x": side * a["gaze_side"],
        "skin": skin,
        "line": scale_rgb(skin, 0.42),
        "hair": hair,
        "brow": scale_rgb(_mix(hair, (20, 16, 14), 0.3), 0.9),
        "white": _mix((245, 243, 238), (238, 160, 160), 0.5 * a["eye_cross"]),
        "iris": person["iris"],
        "lip": _mix(scale_rgb(skin, 0.5), person["lip"], 0.45),
        "brow_width": person["brow_width"],
        "mouth_width": person["mouth_width"],
    }


def _head(draw: ImageDraw.ImageDraw, mask: ImageDraw.ImageDraw, g: dict, person: dict) -> None:
    cx, cy, fw, fh = g["cx"], g["cy"], g["fw"], g["fh"]
    style = person["style"]
    shapes = []
    if style == "long":
        shapes.append(("rect", (cx - 1.18 * fw, cy - 1.0 * fh, cx + 1.18 * fw, cy + 1.0 * fh), g["hair"]))
    if style == "bun":
        shapes.append(("ellipse", (cx - 0.4 * fw, cy - 1.45 * fh, cx + 0.4 * fw, cy - 0.8 * fh), g["hair"]))
    if style != "bald":  # hair behind the head frames the top of the face
        shapes.append(("ellipse", (cx - 1.07 * fw, cy - 1.1 * fh, cx + 1.07 * fw, cy + 0.3 * fh), g["hair"]))
    ear = scale_rgb(g["skin"], 0.92)
    for s in (-1, 1):
        shapes.append(
            ("ellipse", (cx + s * fw - 0.17 * fw, cy - 0.2 * fh, cx + s * fw + 0.17 * fw, cy + 0.25 * fh), ear)
        )
    shapes.append(("ellipse", (cx - fw, cy - fh, cx + fw, cy + fh), g["skin"]))
    jaw = person["jaw"] * fw
    shapes.append(("rect", (cx - jaw, cy, cx + jaw, cy + 0.99 * fh), g["skin"]))
    for kind, box, colour in shapes:
        radius = int(0.5 * (box[2] - box[0]) * 0.8)
        if kind == "rect":
            draw.rounded_rectangle(box, radius=radius, fill=colour)
            mask.rounded_rectangle(box, radius=radius, fill=255)
        else:
            draw.ellipse(box, fill=colour)
            mask.ellipse(box, fill=255)
    if style == "bald":
        for s in (-1, 1):  # a fringe of hair above the ears
            box = (cx + s * 0.95 * fw - 0.14 * fw, cy - 0.5 * fh, cx + s * 0.95 * fw + 0.14 * fw, cy + 0.05 * fh)
            draw.ellipse(box, fill=g["hair"])
        return
    hairline = cy - 0.62 * fh + 0.6 * g["drop"]
    part = g["side"] * 0.3 * fw  # a side parting, so hair is not a plain cap
    for box in (
        (cx - 1.02 * fw + part, cy - 1.08 * fh, cx + 0.9 * fw + part, hairline + 0.06 * fh),
        (cx - 0.95 * fw, cy - 1.1 * fh, cx + 0.95 * fw, hairline - 0.04 * fh),
    ):
        draw.chord(box, 150, 390, fill=g["hair"])
        mask.chord(box, 150, 390, fill=255)


@lru_cache(maxsize=4)
def _grid(canvas: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:canvas, 0:canvas].astype(np.float32) / canvas - 0.5
    return xs, ys


def _background(scene: dict, canvas: int) -> Image.Image:
    t = np.linspace(0.0, 1.0, canvas, dtype=np.float32)[:, None, None]
    rows = (1 - t) * np.asarray(scene["bg_top"], np.float32) + t * np.asarray(scene["bg_bottom"], np.float32)
    return Image.fromarray(np.broadcast_to(rows, (canvas, canvas, 3)).astype(np.uint8))


def render_face(actions: np.ndarray, person: dict, scene: dict, size: int = 128) -> np.ndarray:
    """Draw one face; returns a (size, size, 3) uint8 array. Deterministic in its arguments."""
    a = dict(zip(ACTIONS, np.asarray(actions, dtype=float).tolist()))
    canvas = size * SUPERSAMPLE
    g = _geometry(a, person, scene, canvas)
    image = _background(scene, canvas)
    bd = ImageDraw.Draw(image)
    cx, cy, fw, fh = g["cx"], g["cy"], g["fw"], g["fh"]
    shoulders = cy + (1.15 - 0.3 * a["shrug"]) * fh  # a shrug lifts the shoulders, a proud chest lowers them
    bd.rectangle((cx - 0.42 * fw, cy + 0.4 * fh, cx + 0.42 * fw, shoulders + 0.2 * fh), fill=scale_rgb(g["skin"], 0.82))
    bd.ellipse(
        (cx - (1.9 - 0.2 * a["shrug"]) * fw, shoulders, cx + (1.9 - 0.2 * a["shrug"]) * fw, shoulders + 2 * fh),
        fill=scene["shirt"],
    )
    layer = Image.new("RGB", (canvas, canvas))
    mask = Image.new("L", (canvas, canvas), 0)
    draw, mdraw = ImageDraw.Draw(layer, "RGBA"), ImageDraw.Draw(mask)
    _head(draw, mdraw, g, person)
    draw_skin_marks(draw, g, a, person)
    for x in (g["eye_lx"], g["eye_rx"]):
        winked = (x > cx) == (g["side"] > 0)
        draw_eye(layer, draw, g, a, x, a["wink"] if winked else 0.0)
    draw_brows(draw, g, a)
    draw_nose(draw, g, a)
    draw_mouth(draw, g, a)
    draw_drops(draw, g, a)
    if a["hand_chin"] > 0.15:
        draw_hand(draw, mdraw, g, a["hand_chin"])
    angle = scene["roll"] + g["side"] * a["head_tilt"] * _MAX_TILT_DEG
    layer.putalpha(mask)  # one RGBA rotation moves the head and its silhouette together
    layer = layer.rotate(angle, resample=Image.BILINEAR, center=(cx, cy))  # bilinear is enough at 2x supersampling
    image.paste(layer, (0, 0), layer)
    # lighting at output size: overall brightness, a directional gradient and a warm/cool cast, then sensor noise
    xs, ys = _grid(size)
    light = scene["brightness"] * (
        1 + scene["light_strength"] * (xs * np.cos(scene["light_angle"]) + ys * np.sin(scene["light_angle"]))
    )
    arr = np.asarray(image.reduce(SUPERSAMPLE), dtype=np.float32) * light[..., None]
    arr *= np.array([1 + scene["cast"], 1.0, 1 - scene["cast"]], dtype=np.float32)
    noise = np.random.default_rng(scene["noise_seed"]).normal(0.0, scene["noise"], arr.shape).astype(np.float32)
    return np.clip(arr + noise + 0.5, 0, 255).astype(np.uint8)
