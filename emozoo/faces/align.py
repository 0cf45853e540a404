"""Face alignment and cropping: a detected face becomes an upright square framed like an EmoNet-Face close-up.

The crop is a similarity transform (rotation, scale, shift). The rotation levels the eyes. The square's centre
sits a little below the eye midpoint, towards the mouth, and its side is the face size times ``1 + 2 * margin``.
The face size is ``max(2 x eye distance, 1.8 x eye-to-mouth distance)`` (FFHQ's alignment rule, which stays
stable when the head turns or tilts). The defaults are fitted on SynthFace close-ups and a real photo, so that the
crop of a close-up is nearly its whole frame (bench/faces.py measures it; README "Face detector" gives the figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from emozoo.errors import ConfigError
from emozoo.faces.detector import DetectedFace, FaceDetector, get_detector

__all__ = ["FACE_MODES", "MARGIN", "Crop", "align_face", "alignment_matrix", "crop_faces", "crop_square"]

FACE_MODES = ("all", "largest", "none")
# side = 2.15 x face size. A SynthFace close-up's frame is 2.33 face sizes (median of 52 faces); a real face framed
# the same way (the astronaut, cheeks spanning 53% of the frame) is 1.98, as people's eyes sit wider apart for
# their face width than SynthFace's. 2.15 is the geometric mean: neither framing is cropped nor padded by > 9%.
MARGIN = 0.575
CENTRE_SHIFT = 0.3  # crop centre = eye midpoint + 0.3 x (mouth midpoint - eye midpoint): SynthFace median
BOX_TO_FACE = 0.7  # without landmarks: face size ~ 0.7 x the box's longer side (MTCNN boxes on SynthFace)


@dataclass
class Crop:
    """One face ready for the classifier.

    Attributes:
        image: the aligned square crop (or the whole image for ``faces="none"``).
        box: the detector's (x0, y0, x1, y1) in original pixels (the full frame for ``"none"``).
        landmarks: (5, 2) landmarks in original pixels, or None.
        detector_score: the detector's confidence, or None for ``"none"``.
    """

    image: Image.Image
    box: tuple[float, float, float, float]
    landmarks: np.ndarray | None
    detector_score: float | None


def crop_square(face: DetectedFace, margin: float = MARGIN) -> tuple[np.ndarray, float, float]:
    """Centre (x, y), side, and tilt of the eye line (degrees, in image axes: y down) of ``face``'s crop."""
    if face.landmarks is not None:
        pts = np.asarray(face.landmarks, dtype=np.float64)
        eyes, mouth = (pts[0] + pts[1]) / 2, (pts[3] + pts[4]) / 2
        eye_to_eye, eye_to_mouth = pts[1] - pts[0], mouth - eyes
        size = max(2.0 * np.hypot(*eye_to_eye), 1.8 * np.hypot(*eye_to_mouth))
        centre = eyes + CENTRE_SHIFT * eye_to_mouth
        angle = float(np.degrees(np.arctan2(eye_to_eye[1], eye_to_eye[0])))
    else:
        x0, y0, x1, y1 = face.box
        centre, size, angle = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), BOX_TO_FACE * max(x1 - x0, y1 - y0), 0.0
    return centre, float(size * (1 + 2 * margin)), angle


def alignment_matrix(face: DetectedFace, *, margin: float = MARGIN, output_size: int | None = None) -> np.ndarray:
    """The 2x3 matrix that maps original pixels to crop pixels (apply to points as ``M @ [x, y, 1]``).

    ``output_size=None`` keeps the crop at its natural side (the face's own resolution).
    """
    centre, side, angle = crop_square(face, margin)
    out = output_size or max(1, round(side))
    s = out / side
    a = np.radians(angle)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) * s  # rotates the eye line by -angle
    shift = np.array([out / 2, out / 2]) - rot @ centre
    return np.hstack([rot, shift[:, None]])


def align_face(
    image: Image.Image, face: DetectedFace, *, margin: float = MARGIN, output_size: int | None = None
) -> Image.Image:
    """The upright square crop of ``face``; outside the image reads as black, as a padded close-up would."""
    m = alignment_matrix(face, margin=margin, output_size=output_size)
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]  # PIL wants crop -> original
    out = output_size or max(1, round(crop_square(face, margin)[1]))
    src = image if image.mode == "RGB" else image.convert("RGB")
    # why BICUBIC: the crop is usually scaled down later by the model's own transform; here it is ~1:1
    return src.transform((out, out), Image.AFFINE, tuple(inv.ravel()), resample=Image.BICUBIC)


def crop_faces(
    image: Image.Image,
    mode: Literal["all", "largest", "none"] = "all",
    detector: FaceDetector | str | None = None,
    *,
    margin: float = MARGIN,
    output_size: int | None = None,
) -> list[Crop]:
    """Faces of ``image`` as aligned crops, largest first; an image with no face gives ``[]``.

    Args:
        mode: ``all`` every face, ``largest`` the biggest one, ``none`` the whole image as one crop (no detection).
        detector: a detector, a registered name, or None for ``get_detector("default")``.
        margin: see :func:`crop_square`.
        output_size: side of each crop in pixels; None keeps the face's own resolution.

    Raises:
        ConfigError: an unknown ``mode`` or detector name.
    """
    if mode not in FACE_MODES:
        raise ConfigError(f"faces={mode!r} is not a face mode; choose one of {', '.join(FACE_MODES)}")
    if mode == "none":
        return [Crop(image, (0.0, 0.0, float(image.width), float(image.height)), None, None)]
    if detector is None or isinstance(detector, str):
        detector = get_detector(detector or "default")
    faces = sorted(detector.detect(image), key=lambda f: -f.area)
    if mode == "largest":
        faces = faces[:1]
    return [
        Crop(align_face(image, f, margin=margin, output_size=output_size), f.box, f.landmarks, f.score) for f in faces
    ]
