"""The crop stage of ``predict``: what part of an image reaches the model, one ``Crop`` per face.

A cropper is any callable ``crops(image: PIL.Image) -> list[Crop]``; it runs in the loader workers, after the
image is read and before the model's per-sample transform, so it must be picklable (a module-level function or
an instance of a module-level class). ``face_cropper(mode)`` gives the one for ``--faces``/``faces=``:

- ``none``: the whole image as one crop whose box is the full frame (the EmoNet-Face close-ups are whole images);
- ``all`` / ``largest``: every face / the largest face found by the face detector, aligned and framed like the
  training close-ups. They need the detector package, and say so in one line while it is absent.

An empty list means the image has no face: ``predict`` then writes a record that says so (``faces: 0``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from emozoo.errors import ConfigError

__all__ = ["FACE_MODES", "Crop", "Cropper", "face_cropper", "whole_image"]

FACE_MODES = ("all", "largest", "none")


@dataclass(frozen=True)
class Crop:
    """One region of an input image, as the model will see it.

    Attributes:
        image: the crop (aligned, for a detected face).
        box: ``(x0, y0, x1, y1)`` of the region in the original image's pixels.
        landmarks: the detector's facial landmarks ``[(x, y), ...]`` in original pixels, or None.
        detector_score: the detector's confidence, or None without a detector.
    """

    image: Image.Image
    box: tuple[float, float, float, float]
    landmarks: Sequence[tuple[float, float]] | None = None
    detector_score: float | None = None


Cropper = Callable[[Image.Image], list[Crop]]


def whole_image(image: Image.Image) -> list[Crop]:
    """The whole image as its one crop (``faces="none"``)."""
    return [Crop(image, (0, 0, image.width, image.height))]


def face_cropper(mode: str) -> Cropper:
    """The cropper for a ``faces`` mode (``all``, ``largest`` or ``none``).

    Raises:
        ConfigError: an unknown mode, or a mode that needs the face detector, which is not available here.
    """
    if mode == "none":
        return whole_image
    if mode in ("all", "largest"):
        raise ConfigError(
            f"faces={mode!r} needs the face detector (emozoo.faces), which is not available in this installation; "
            "use faces='none' (--faces none) to score whole images"
        )
    raise ConfigError(f"unknown faces mode {mode!r}; use one of {', '.join(FACE_MODES)}")
