"""The one image reader for training and inference: any image PIL can open, as a person would see it, in RGB.

``load_image`` applies the EXIF orientation (a phone's portrait shot reaches the model upright), composites
transparency over white, scales 16-bit and float images to 8 bits by their bit depth or range (a 16-bit grey PNG
is not clipped to white), takes the first frame of an animation, and refuses an image over a pixel cap from its
header, before any pixel is decoded. Every way an image can fail (unreadable, truncated, too large) raises the one
``ImageError``, whose message is one line naming the image and what to do, so callers skip it and carry on.
``to_pil`` turns numpy arrays and torch tensors into PIL images for the Python API.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias

import numpy as np
from PIL import Image

from emozoo.errors import DataError

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "ImageError",
    "ImageSource",
    "default_max_pixels",
    "load_image",
    "to_pil",
]

# 40 MP is above any phone or DSLR photo we expect (a 48 MP sensor bins to 12 MP by default) and well below
# Pillow's own limit (~89 MP warns, ~179 MP fails), at which a palette PNG already costs ~0.5 GB per worker.
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PIXELS_ENV = "EMOZOO_MAX_PIXELS"

# EPS is read by running Ghostscript on the file: never on untrusted input. Every other PIL reader is pure.
_UNSAFE_FORMATS = frozenset({"EPS"})
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_WHITE = (255, 255, 255)

# What ``load_image`` reads; torch is named only for type checkers, so importing this module never imports torch.
ImageSource: TypeAlias = (
    "str | Path | bytes | bytearray | memoryview | IO[bytes] | Image.Image | np.ndarray | torch.Tensor"
)


class ImageError(DataError):
    """An image that cannot be used: unreadable, truncated, or over the pixel cap. Callers skip it."""


def default_max_pixels() -> int:
    """The pixel cap: ``$EMOZOO_MAX_PIXELS`` if set (a positive integer, ``40e6`` allowed), else 40 MP."""
    raw = os.environ.get(MAX_PIXELS_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_PIXELS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (1 <= value < float("inf")):
        raise ImageError(f"{MAX_PIXELS_ENV}={raw!r} is not a positive number of pixels (e.g. 40000000 or 4e7)")
    return int(value)


_COMMON = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


@functools.lru_cache(maxsize=1)
def _formats() -> tuple[str, ...]:
    """Every format PIL reads except the unsafe ones, the common ones tried first (as ``Image.open`` does)."""
    Image.init()
    safe = [f for f in Image.ID if f not in _UNSAFE_FORMATS]
    return tuple(sorted(safe, key=lambda f: _COMMON.index(f) if f in _COMMON else len(_COMMON)))


def _describe(source: Any, name: str | None) -> str:
    """What messages call the image: ``name``, else its path or file name, else its type."""
    if name is None and isinstance(source, (str, os.PathLike)):
        name = os.fsdecode(source)
    if name is None:
        file_name = getattr(source, "name", None)
        name = file_name if isinstance(file_name, str) else f"<{type(source).__name__}>"
    # A file name may hold a newline or an escape sequence: keep the message on one line and the terminal sane.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _pixels(n: int) -> str:
    return f"{n / 1e6:.1f} MP" if n >= 100_000 else f"{n} pixels"


def _check_size(size: tuple[int, int], cap: int, label: str) -> None:
    w, h = size
    if w * h > cap:
        raise ImageError(
            f"{label}: {w}x{h} = {_pixels(w * h)} is over the {_pixels(cap)} cap (a decompression bomb?); "
            f"if the image is genuine, raise the cap: {MAX_PIXELS_ENV}=<pixels> emozoo ..."
        )


def _open(source: Any, cap: int, label: str) -> Image.Image:
    """``Image.open`` (header only) with Pillow's bomb check mapped to ``ImageError`` and our cap applied."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            # Pillow's bomb warning would only repeat our cap's decision, and its "Corrupt EXIF data" is a photo we
            # read unrotated, as viewers do; a real problem raises when the pixels are decoded.
            warnings.simplefilter("ignore")
            img = Image.open(source, formats=_formats())
    except Image.DecompressionBombError as err:
        raise ImageError(
            f"{label}: over Pillow's pixel limit ({err}); refused as a decompression bomb. If it is genuine, "
            f"raise PIL.Image.MAX_IMAGE_PIXELS as well as {MAX_PIXELS_ENV}"
        ) from None
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file; check the path") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{label}: not an image format PIL can read; check or remove the file") from None
    except Exception as err:
        raise ImageError(f"{label}: not a readable image ({_reason(err)}); check or remove the file") from None
    try:
        _check_size(img.size, cap, label)
    except ImageError:
        img.close()
        raise
    return img


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())[:160]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _orientation(img: Image.Image) -> Image.Transpose | None:
    """How to turn the image upright per its EXIF orientation; None when absent, upright or unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns "Corrupt EXIF data" once per broken photo
            orientation = img.getexif().get(_ORIENTATION, 1)
    except Exception:  # a broken EXIF block: viewers show such photos unrotated, and so do we
        return None
    return _TRANSPOSE.get(orientation) if isinstance(orientation, int) else None


def _scale_to_8bit(img: Image.Image) -> Image.Image:
    """Grey 16-bit (``I;16*``), 32-bit integer (``I``) or float (``F``) pixels mapped linearly to ``L``.

    ``I;16*`` (and ``I`` from a PNG, always 16-bit grey) use their bit depth (65535 is white), as a viewer shows
    them. Other ``I`` and ``F`` say nothing about their range, so the values decide: ``F`` in [0, 1] is scaled by
    255; values already in [0, 255] are kept; ``I`` in [0, 65535] is 16-bit data; anything else is stretched from
    its minimum to its maximum (a constant image is black). Non-finite float pixels become black.
    """
    a = np.asarray(img)
    if img.mode.startswith("I;16") or (img.mode == "I" and img.format == "PNG"):
        scaled = a.astype(np.float32) / 257.0
    else:
        a = a.astype(np.float64)
        finite = np.isfinite(a)
        lo, hi = (float(a[finite].min()), float(a[finite].max())) if finite.any() else (0.0, 0.0)
        if img.mode == "F" and lo >= 0 and hi <= 1:
            scaled = a * 255.0
        elif lo >= 0 and hi <= 255:
            scaled = a
        elif img.mode != "F" and lo >= 0 and hi <= 65535:
            scaled = a / 257.0
        else:
            scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        scaled = np.where(finite, scaled, 0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def _to_rgb(img: Image.Image, label: str) -> Image.Image:
    """RGB as displayed: transparency over white, high bit depths scaled, every other mode converted."""
    if img.mode == "RGB" and "transparency" not in img.info:
        return img
    if img.mode.startswith("I") or img.mode == "F":
        return _scale_to_8bit(img).convert("RGB")
    try:
        if "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info:
            rgba = img.convert("RGBA")
            out = Image.new("RGB", rgba.size, _WHITE)
            out.paste(rgba, mask=rgba.getchannel("A"))
            return out
        return img.convert("RGB")
    except ValueError as err:  # a mode PIL cannot turn into RGB
        raise ImageError(f"{label}: unsupported image mode {img.mode} ({_reason(err)}); save it as RGB") from None


def _keeps_file(img: Image.Image) -> bool:
    """True when ``Image.open`` opened a file that it keeps open after ``load`` (GIF, APNG, multi-page TIFF...)."""
    return bool(getattr(img, "_exclusive_fp", False)) and not getattr(img, "_close_exclusive_fp_after_loading", True)


def load_image(
    source: ImageSource, *, max_pixels: int | None = None, min_side: int | None = None, name: str | None = None
) -> Image.Image:
    """Read an image as a person sees it: an RGB ``PIL.Image`` with EXIF orientation applied.

    Args:
        source: a path, encoded bytes, a binary file object, a ``PIL.Image`` (its current frame), or a numpy
            array / torch tensor (see ``to_pil``).
        max_pixels: refuse images with more pixels than this, read from the header before decoding; default
            ``$EMOZOO_MAX_PIXELS`` or ``DEFAULT_MAX_PIXELS``.
        min_side: the size the caller will resize to. A large JPEG is then decoded at 1/2, 1/4 or 1/8 scale
            (libjpeg's DCT scaling, several times faster), keeping both sides at least ``min_side``.
        name: what error messages call the image (e.g. a shard key); default the path.

    Raises:
        ImageError: the image is unreadable, truncated, of an unsupported mode, or over the pixel cap.
    """
    cap = default_max_pixels() if max_pixels is None else max_pixels
    label = _describe(source, name)
    if isinstance(source, Image.Image):
        img, owned = source, False
        _check_size(img.size, cap, label)
    elif isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(source, "read"):
        img, owned = _open(source, cap, label), True
    else:
        img, owned = to_pil(source), False
        _check_size(img.size, cap, label)
    out = None
    try:
        if owned and min_side and img.format in ("JPEG", "MPO") and min(img.size) >= 2 * min_side:
            img.draft(img.mode, (min_side, min_side))
        img.load()  # decode now: a truncated file fails here, not later inside a transform
        turn = _orientation(img)
        out = _to_rgb(img, label)
        if turn is not None:
            out = out.transpose(turn)
        if out is img and owned and _keeps_file(img):
            out = img.copy()  # a multi-frame file stays open for its next frames: detach the first one, close it
    except ImageError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageError(f"{label}: refused as a decompression bomb ({err})") from None
    except Exception as err:
        raise ImageError(f"{label}: truncated or corrupt image ({_reason(err)}); check or remove the file") from None
    finally:
        if owned and out is not img:  # failed, or the result is a new image: the file is ours to close
            img.close()
    return out


def to_pil(x: Any) -> Image.Image:
    """A numpy array or torch tensor as a ``PIL.Image``.

    numpy arrays are ``HxW`` or ``HxWxC``; torch tensors are ``CxHxW`` (torchvision's layout) or, when only the
    last dimension can be channels, ``HxWxC``. ``C`` is 1 (grey), 3 (RGB) or 4 (RGBA); a leading batch
    dimension of 1 is dropped. ``uint8`` is taken as is, ``uint16`` as 16-bit, ``bool`` as black/white, and
    floats must lie in [0, 1].

    Raises:
        ImageError: the shape, dtype or value range is not an image's.
    """
    if isinstance(x, Image.Image):
        return x
    is_torch = type(x).__module__.split(".")[0] == "torch"
    if is_torch:
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.float()
        x = x.numpy()
    if not isinstance(x, np.ndarray):
        raise ImageError(
            f"cannot read an image from a {type(x).__name__}; give a path, bytes, PIL image, array or tensor"
        )
    a = x
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if is_torch and a.ndim == 3 and a.shape[0] in (1, 3, 4):  # torchvision's CxHxW wins when both could be C
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))) or 0 in a.shape:
        layout = "CxHxW" if is_torch else "HxWxC"
        hint = "; for channels first, use arr.transpose(1, 2, 0)" if not is_torch and a.shape[0] in (1, 3, 4) else ""
        raise ImageError(f"an image array must be HxW or {layout} with C in 1, 3, 4; got {tuple(x.shape)}{hint}")
    return Image.fromarray(_as_uint(a))


def _as_uint(a: np.ndarray) -> np.ndarray:
    """Pixels as uint8 (or uint16 for 16-bit grey, which ``load_image`` scales later)."""
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16:
        return np.ascontiguousarray(a) if a.ndim == 2 else (a // 257).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError("image array has NaN or infinite values")
        lo, hi = (float(a.min()), float(a.max()))
        if lo < 0 or hi > 1:
            raise ImageError(
                f"a float image must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]; un-normalise it, or divide 0-255 "
                "values by 255, or pass uint8"
            )
        return np.rint(a * 255).astype(np.uint8)
    raise ImageError(f"unsupported image dtype {a.dtype}; use uint8, uint16, bool or float in [0, 1]")
