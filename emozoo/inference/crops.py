"""The crop stage of ``predict``: what part of an image reaches the model, one ``Crop`` per face.

A cropper is any callable ``crops(image: PIL.Image) -> list[Crop]``; it runs in the loader workers, after the
image is read and before the model's per-sample transform, so it must be picklable (a module-level function, a
``functools.partial`` of one, or an instance of a module-level class). ``face_cropper(mode)`` gives the one for
``--faces``/``faces=``, built on ``emozoo.faces.crop_faces``:

- ``all`` / ``largest``: every face / the largest face found by the face detector (MTCNN, weights shipped in the
  package), rotated so the eyes are level and framed like the EmoNet-Face close-ups;
- ``none``: the whole image as one crop whose box is the full frame (benchmark images are close-ups already).

An empty list means the image has no face: ``predict`` then writes a record that says so (``faces: 0``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PIL import Image

from emozoo.errors import ConfigError
from emozoo.faces import FACE_MODES, Crop, crop_faces

__all__ = ["FACE_MODES", "Crop", "Cropper", "LargestFaceOrWhole", "face_cropper", "whole_image"]

Cropper = Callable[[Image.Image], list[Crop]]


def whole_image(image: Image.Image) -> list[Crop]:
    """The whole image as its one crop (``faces="none"``)."""
    return crop_faces(image, "none")


def face_cropper(mode: str) -> Cropper:
    """The cropper for a ``faces`` mode (``all``, ``largest`` or ``none``), checked before any work starts.

    Raises:
        ConfigError: an unknown mode.
    """
    if mode not in FACE_MODES:
        raise ConfigError(f"unknown faces mode {mode!r}; use one of {', '.join(FACE_MODES)}")
    return whole_image if mode == "none" else partial(crop_faces, mode=mode)


class LargestFaceOrWhole:
    """``eval``'s crop stage for ``faces="largest"``: the largest face, aligned; the whole image when none is found.

    Every rated image must get a score for the agreement protocol, so an image without a detected face is scored
    whole (as ``faces="none"`` would) instead of being dropped. Picklable: it runs in the loader workers.
    """

    def __call__(self, image: Image.Image) -> Image.Image:
        crops = crop_faces(image, "largest")
        return crops[0].image if crops else image
