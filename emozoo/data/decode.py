"""Reading a sample's members: its image, its cached embedding and its labels.

``read_image`` is the one function that turns encoded image bytes or a file into a PIL image, for training,
evaluation, ``emozoo embed`` and ``emozoo predict`` alike, so that every path sees an image the same way.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from emozoo.data.schema import IMAGE_KEYS, BadSample, validate_labels
from emozoo.images import ImageError, load_image

__all__ = ["decode_embedding", "decode_image", "read_image", "read_labels"]


def read_image(source: bytes | str | Path, name: str | None = None) -> Image.Image:
    """An image file or encoded image bytes as a fully decoded RGB image, read the way a person sees it.

    This is ``emozoo.images.load_image`` (EXIF orientation, alpha over white, 16-bit scaling, first frame, the
    pixel cap checked from the header). Decoding happens here, so a truncated file fails in this call and not
    later inside a transform.

    Raises:
        ImageError: an unreadable, unsupported or over-the-cap image (one line; callers report and skip it).
    """
    return load_image(source, name=name)


def decode_image(sample: dict[str, Any]) -> Image.Image:
    """The sample's image (the first of ``IMAGE_KEYS`` present), fully loaded; ``BadSample`` if none decodes."""
    for key in IMAGE_KEYS:
        if key in sample:
            try:
                return read_image(sample[key], name=key)
            except ImageError as err:
                raise BadSample(f"undecodable image: {err}") from None
    raise BadSample(f"no image (expected one of {', '.join(IMAGE_KEYS)})")


def decode_embedding(sample: dict[str, Any]) -> torch.Tensor:
    """The sample's cached embedding (``npy``, a 1-d float array) as float32; ``BadSample`` if unreadable."""
    if "npy" not in sample:
        raise BadSample("no embedding (expected npy)")
    try:
        vector = np.load(io.BytesIO(sample["npy"]), allow_pickle=False)
    except Exception as err:
        raise BadSample(f"npy: undecodable embedding ({type(err).__name__})") from None
    if vector.ndim != 1 or not np.isfinite(vector).all():
        raise BadSample(f"npy: expected a finite 1-d vector, got shape {vector.shape}")
    return torch.from_numpy(vector.astype(np.float32))


def read_labels(sample: dict[str, Any]) -> dict[str, Any]:
    """A sample's validated labels from its ``json`` member.

    Raises:
        BadSample: the member is missing, is not JSON, or fails ``validate_labels``.
    """
    if "json" not in sample:
        raise BadSample("missing json labels")
    try:
        meta = json.loads(sample["json"])
    except (ValueError, UnicodeDecodeError):
        raise BadSample("json: not valid JSON") from None
    return validate_labels(meta)
