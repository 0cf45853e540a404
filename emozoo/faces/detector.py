"""Face detectors behind one small interface, found by name.

A detector takes a PIL image and returns :class:`DetectedFace` records in that image's pixels. Entries are
factories in ``DETECTORS``; ``get_detector("default")`` builds (once per process) the MTCNN cascade whose
weights ship inside the package (see ``emozoo.faces.mtcnn``), so detection needs no network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from emozoo.errors import ConfigError
from emozoo.registry import Registry

__all__ = ["DETECTORS", "DetectedFace", "FaceDetector", "MTCNNDetector", "get_detector", "list_detectors"]

# Landmark order used everywhere in emozoo.faces (MTCNN's, also RetinaFace's and InsightFace's).
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class DetectedFace:
    """One face: ``box`` (x0, y0, x1, y1) in original pixels, ``landmarks`` (5, 2) in :data:`LANDMARKS`
    order (``left`` is the image's left, the person's right eye) or None, and the detector's ``score``."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray | None
    score: float

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


@runtime_checkable
class FaceDetector(Protocol):
    """Anything with ``detect(image) -> list[DetectedFace]``, best score first."""

    def detect(self, image: Image.Image) -> list[DetectedFace]: ...


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


class MTCNNDetector:
    """MTCNN with the image shrunk so its longer side is at most ``max_side`` pixels.

    Why shrink: the cascade's first stage runs a pyramid down from faces of ``min_face`` pixels, so its cost grows
    with the image area; a 12 MP phone photo would take seconds. At 1024 px a face needs ``min_face`` = 32 px to
    be found, 3% of the longer side: smaller faces carry too few pixels to read an emotion from, and skipping
    them halves the cascade's time (the pyramid's largest levels cost most).

    Args:
        max_side: longest side the cascade sees; larger images are scaled down, boxes scaled back.
        min_face: smallest face side, in pixels of the (shrunk) image.
    """

    def __init__(self, max_side: int = 1024, min_face: int = 32) -> None:
        from emozoo.faces.mtcnn import MTCNN  # torch: imported only when a detector is built

        self.max_side = max_side
        self.net = MTCNN(min_face=min_face)

    def detect(self, image: Image.Image) -> list[DetectedFace]:
        image = _rgb(image)
        scale = min(1.0, self.max_side / max(image.size))
        if scale < 1.0:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.BILINEAR, reducing_gap=2.0)
        boxes, points, scores = self.net.detect(np.array(image))
        faces = [
            DetectedFace(tuple(float(v) for v in box / scale), (pts / scale).astype(np.float32), float(score))
            for box, pts, score in zip(boxes, points, scores)
        ]
        return sorted(faces, key=lambda f: -f.score)


DETECTORS: Registry[Callable[[], FaceDetector]] = Registry("face detector")
DETECTORS.register("mtcnn", MTCNNDetector)
DETECTORS.register("default", MTCNNDetector)


def list_detectors(pattern: str = "*") -> list[str]:
    """Registered detector names matching a glob pattern."""
    return DETECTORS.names(pattern)


@cache
def get_detector(name: str = "default") -> FaceDetector:
    """The detector registered as ``name``, built once per process and shared.

    Raises:
        ConfigError: ``name`` is not registered (the message lists the valid names).
    """
    if name not in DETECTORS:
        raise ConfigError(DETECTORS.unknown_message(name))
    return DETECTORS.get(name)()
