"""Real and synthetic faces with known positions, pasted into larger scenes (shared by tests/faces and bench/faces.py).

Ground truth never comes from the detector under test: the astronaut's face box and eyes were read by hand off
``skimage.data.astronaut()`` (512 x 512), and SynthFace's come from the renderer's own geometry.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class Face:
    """A source image with its face box (x0, y0, x1, y1) and eye centres (left, right) in its pixels."""

    image: Image.Image
    box: np.ndarray
    eyes: np.ndarray


@dataclass
class Placed:
    """Where a face landed in a scene: its box and eyes in scene pixels, and the rotation it was pasted with."""

    box: np.ndarray
    eyes: np.ndarray
    angle: float


def astronaut() -> Face:
    """Eileen Collins (public domain NASA photo shipped with scikit-image); box and eyes labelled by hand."""
    from skimage import data

    img = Image.fromarray(data.astronaut())
    return Face(img, np.array([180.0, 65.0, 270.0, 180.0]), np.array([[205.0, 101.0], [245.0, 103.0]]))


def synthface(index: int, size: int = 256) -> Face:
    """SynthFace hq-test image ``index``; its head oval as the box, its rendered (and rolled) eye centres."""
    from emozoo.synthface import render
    from emozoo.synthface.actions import ACTIONS, actions_from_latent
    from emozoo.synthface.generate import _STREAMS, SynthFaceConfig, make_sample
    from emozoo.synthface.latent import sample_latent
    from emozoo.synthface.people import sample_person, sample_scene
    from emozoo.synthface.raters import RaterPanel

    cfg = SynthFaceConfig(image_size=size, image_format="png")
    img = Image.open(io.BytesIO(make_sample(cfg, RaterPanel.create(0), "hq-test", index)["png"])).convert("RGB")
    # replay make_sample's random streams to get the renderer's geometry (render.py draws from the same numbers)
    children = np.random.SeedSequence([cfg.seed, _STREAMS["hq-test"], index]).spawn(4)
    face_rng, who, scene_rng, _ = (np.random.default_rng(s) for s in children)
    latent = sample_latent(face_rng)
    person, scene = sample_person(who), sample_scene(scene_rng)
    a = dict(zip(ACTIONS, actions_from_latent(latent, face_rng).tolist()))
    g = render._geometry(a, person, scene, size)
    angle = scene["roll"] + g["side"] * a["head_tilt"] * render._MAX_TILT_DEG
    eyes = np.array([[g["eye_lx"], g["eye_y"]], [g["eye_rx"], g["eye_y"]]])
    eyes = _rotate_points(eyes, angle, np.array([g["cx"], g["cy"]]))
    box = np.array([g["cx"] - g["fw"], g["cy"] - g["fh"], g["cx"] + g["fw"], g["cy"] + g["fh"]])
    return Face(img, box, eyes)


def _rotate_points(points: np.ndarray, angle: float, centre: np.ndarray) -> np.ndarray:
    """Where PIL's ``rotate(angle, center=centre)`` (counter-clockwise on screen) moves ``points``."""
    a = np.radians(angle)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    return (points - centre) @ rot.T + centre


def paste(canvas: Image.Image, face: Face, *, face_width: float, angle: float, centre: tuple[float, float]) -> Placed:
    """Paste ``face`` scaled so its box is ``face_width`` px wide, rotated by ``angle`` degrees, at ``centre``.

    Only the region around the face box (1.6x its size, as a disc) is pasted, so copies can sit close together.
    """
    scale = face_width / (face.box[2] - face.box[0])
    fc = (face.box[:2] + face.box[2:]) / 2
    half = 0.8 * max(face.box[2] - face.box[0], face.box[3] - face.box[1])
    region = face.image.crop(tuple(np.round([fc[0] - half, fc[1] - half, fc[0] + half, fc[1] + half]).astype(int)))
    side = max(2, round(region.width * scale))
    region = region.resize((side, side), Image.LANCZOS).rotate(angle, resample=Image.BICUBIC)
    mask = Image.new("L", (side, side), 0)
    from PIL import ImageDraw

    ImageDraw.Draw(mask).ellipse((0, 0, side - 1, side - 1), fill=255)
    mask = mask.rotate(angle)
    top_left = (round(centre[0] - side / 2), round(centre[1] - side / 2))
    canvas.paste(region, top_left, mask)
    # map: source -> region pixels (shift, scale) -> rotated about the region centre -> canvas
    offset = np.array(top_left, dtype=float)
    region_centre = np.array([side / 2, side / 2])

    def move(p: np.ndarray) -> np.ndarray:
        q = (p - (fc - half)) * side / (2 * half)
        return _rotate_points(q, angle, region_centre) + offset

    c = move(fc[None])[0]
    w, h = (face.box[2:] - face.box[:2]) * side / (2 * half)
    # the box of a rotated face: same size, centred where the face went (what detectors report)
    return Placed(np.array([c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2]), move(face.eyes), angle)


def scene(placements: list[tuple[Face, float, float, tuple[float, float]]], size=(1024, 768), seed: int = 0):
    """A canvas of mild noise with faces pasted as (face, width, angle, centre); returns (image, [Placed])."""
    rng = np.random.default_rng(seed)
    base = rng.normal(150, 12, (size[1], size[0], 3)).clip(0, 255).astype(np.uint8)
    canvas = Image.fromarray(base)
    return canvas, [paste(canvas, f, face_width=w, angle=a, centre=c) for f, w, a, c in placements]


def box_iou(a, b) -> float:
    """IoU of two (x0, y0, x1, y1) boxes, written out independently of emozoo.faces."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def write_video(path, frames, fps: int = 10, codec: str = "libx264") -> None:
    """Encode PIL frames into ``path`` with PyAV (container from the suffix)."""
    import av

    frames = list(frames)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_image(image.convert("RGB"))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
