"""``emozoo.images.load_image`` reads every image as a person sees it, and refuses bombs and broken files in one line.

References are computed with numpy from the stored pixels (rotations, alpha over white, bit-depth scaling), not
with the code under test. The photograph is scikit-image's astronaut (a real photo of a person, shipped with the
package). Each case that the old reader (``Image.open`` + ``convert("RGB")``) got wrong is marked "old:".
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from emozoo.errors import DataError
from emozoo.images import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, ImageError, load_image, to_pil

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """The astronaut, cropped to 512x384 (W x H) so that a transposition cannot pass for the identity."""
    return skdata.astronaut()[:384]


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def stored_pixels(blob: bytes) -> np.ndarray:
    """The pixels as stored in the file, decoded plainly (no orientation, no conversion)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about the test's deliberately broken EXIF
        return np.asarray(Image.open(io.BytesIO(blob)))


def png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def palette_png(path: Path, width: int, height: int, rows: bool = True) -> Path:
    """A valid 8-bit palette PNG, written row by row in bounded memory; ``rows=False``: the header alone."""
    with path.open("wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)))
        f.write(png_chunk(b"PLTE", bytes(range(256)) * 3))
        if rows:
            z, row = zlib.compressobj(6), b"\0" + bytes(width)
            f.write(png_chunk(b"IDAT", b"".join(z.compress(row) for _ in range(height)) + z.flush()))
        f.write(png_chunk(b"IEND", b""))
    return path


# --- orientation -------------------------------------------------------------------------------------------------

# EXIF orientation -> what a viewer does to the stored pixels (numpy's rot90 turns counter-clockwise).
ORIENTATIONS = {
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    6: lambda a: np.rot90(a, -1),  # stored on its side: turn 90 degrees clockwise
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied(photo, orientation, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = orientation
    blob = encode(Image.fromarray(photo), "JPEG", quality=95, exif=exif)
    expected = ORIENTATIONS[orientation](stored_pixels(blob))
    path = tmp_path / "phone.jpg"
    path.write_bytes(blob)
    for source in (blob, path, str(path), io.BytesIO(blob)):
        out = load_image(source)
        assert out.mode == "RGB" and out.size == (expected.shape[1], expected.shape[0])
        np.testing.assert_array_equal(np.asarray(out), expected)  # old: stored pixels, sideways


def test_no_orientation_keeps_pixels(photo):
    blob = encode(Image.fromarray(photo), "JPEG", quality=95)
    np.testing.assert_array_equal(np.asarray(load_image(blob)), stored_pixels(blob))


def test_broken_exif_is_ignored_like_a_viewer_does(photo):
    img = Image.fromarray(photo)
    blob = encode(img, "JPEG", quality=95, exif=b"Exif\x00\x00MM\x00*garbage")
    np.testing.assert_array_equal(np.asarray(load_image(blob)), stored_pixels(blob))


# --- modes -------------------------------------------------------------------------------------------------------


def cmyk_reference(cmyk: np.ndarray) -> np.ndarray:
    """The naive CMYK -> RGB that viewers without a colour profile use: (1 - C)(1 - K)."""
    c = cmyk.astype(np.float64) / 255
    return np.rint(255 * (1 - c[..., :3]) * (1 - c[..., 3:])).astype(np.uint8)


def test_cmyk(photo):
    rng = np.random.default_rng(0)
    cmyk = np.concatenate([255 - photo, rng.integers(0, 120, photo.shape[:2] + (1,), dtype=np.uint8)], axis=-1)
    img = Image.frombytes("CMYK", (photo.shape[1], photo.shape[0]), cmyk.tobytes())
    out = np.asarray(load_image(encode(img, "TIFF")))
    assert np.abs(out.astype(int) - cmyk_reference(cmyk)).max() <= 1
    # A CMYK JPEG (as print workflows write them) reads back close to the photo it encodes.
    img = Image.frombytes("CMYK", img.size, np.concatenate([255 - photo, np.zeros_like(photo[..., :1])], -1).tobytes())
    out = np.asarray(load_image(encode(img, "JPEG", quality=95)))
    assert np.abs(out.astype(float) - photo).mean() < 3


def over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float64)[..., None] / 255
    return rgb.astype(np.float64) * a + 255 * (1 - a)


def alpha_ramp(shape: tuple[int, int]) -> np.ndarray:
    return np.tile(np.linspace(0, 255, shape[1]).astype(np.uint8), (shape[0], 1))


def test_rgba_over_white(photo):
    alpha = alpha_ramp(photo.shape[:2])
    blob = encode(Image.fromarray(np.dstack([photo, alpha])), "PNG")
    out = np.asarray(load_image(blob)).astype(np.float64)
    assert np.abs(out - over_white(photo, alpha)).max() <= 1  # old: alpha dropped, transparent pixels dark
    assert (out[:, 0] == 255).all()


def test_la_over_white(photo):
    grey, alpha = photo[..., 1], alpha_ramp(photo.shape[:2])
    blob = encode(Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)]), "PNG")
    out = np.asarray(load_image(blob)).astype(np.float64)
    expected = over_white(grey[..., None].repeat(3, -1), alpha)
    assert np.abs(out - expected).max() <= 1


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_over_white(fmt):
    idx = np.zeros((40, 60), np.uint8)
    idx[10:30, 20:40] = 1  # a red square on a transparent background
    img = Image.fromarray(idx).convert("P")
    img.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    out = np.asarray(load_image(encode(img, fmt, transparency=0)))
    expected = np.full((40, 60, 3), 255, np.uint8)
    expected[10:30, 20:40] = (255, 0, 0)
    np.testing.assert_array_equal(out, expected)  # old: the transparent background came out black


def gradient16() -> np.ndarray:
    return (np.arange(64 * 1024).reshape(64, 1024) % 65536).astype(np.uint16)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16bit_grey_is_scaled_not_clipped(fmt):
    g = gradient16()
    img = Image.fromarray(g) if fmt == "PNG" else Image.frombytes("I;16B", g.shape[::-1], g.astype(">u2").tobytes())
    blob = encode(img, fmt)
    assert Image.open(io.BytesIO(blob)).mode.startswith("I;16")
    out = np.asarray(load_image(blob))
    expected = np.rint(g / 257.0)  # 65535 is white: 16 bits to 8
    assert np.abs(out[..., 0].astype(int) - expected).max() <= 1
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 0] == out[..., 2]).all()
    assert out.min() == 0 and out.max() == 255 and (out[..., 0] < 255).mean() > 0.99  # old: all but 0.4% white
    assert (np.diff(out[0, :, 0].astype(int)) >= 0).all()  # a gradient stays a gradient


@pytest.mark.parametrize(
    ("values", "reference"),
    [
        (np.linspace(0, 65535, 4096), lambda a: a / 257),  # 16-bit data held in 32 bits
        (np.linspace(0, 200, 4096), lambda a: a),  # already 8-bit
        (np.linspace(-1000, 3e6, 4096), lambda a: (a - a.min()) * 255 / (a.max() - a.min())),  # stretched
        (np.full(4096, -7), lambda a: a * 0),  # constant outside any range: black, not NaN
    ],
)
def test_mode_i(values, reference, tmp_path):
    a = values.reshape(64, 64).astype(np.int32)
    img = Image.fromarray(a)
    assert img.mode == "I"
    img.save(tmp_path / "i.tif")
    for source in (img, tmp_path / "i.tif"):
        out = np.asarray(load_image(source))[..., 0]
        assert np.abs(out.astype(int) - np.rint(reference(a.astype(np.float64)))).max() <= 1


@pytest.mark.parametrize(
    ("lo", "hi", "reference"),
    [(0.0, 1.0, lambda a: a * 255), (-4.0, 9.5, lambda a: (a + 4) * 255 / 13.5)],
)
def test_mode_f(lo, hi, reference):
    a = np.linspace(lo, hi, 64 * 64).reshape(64, 64).astype(np.float32)
    blob = encode(Image.fromarray(a), "TIFF")
    out = np.asarray(load_image(blob))[..., 0]
    assert np.abs(out.astype(int) - np.rint(reference(a.astype(np.float64)))).max() <= 1


def test_bilevel_and_grey(photo):
    grey = photo[..., 0]
    np.testing.assert_array_equal(np.asarray(load_image(encode(Image.fromarray(grey), "PNG"))), np.dstack([grey] * 3))
    bits = grey > 128
    out = np.asarray(load_image(encode(Image.fromarray(bits), "PNG")))
    np.testing.assert_array_equal(out, np.dstack([bits * 255] * 3).astype(np.uint8))


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animation_gives_its_first_frame(fmt, tmp_path):
    frames = [Image.new("RGB", (32, 24), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    path = tmp_path / f"anim.{fmt.lower()}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    with Image.open(path) as im:
        assert im.n_frames == 3
    out = load_image(path)
    path.unlink()  # the result owns its pixels: nothing still reads the file
    np.testing.assert_array_equal(np.asarray(out), np.full((24, 32, 3), (255, 0, 0), np.uint8))


def test_pil_image_input_is_converted(photo):
    alpha = alpha_ramp(photo.shape[:2])
    out = np.asarray(load_image(Image.fromarray(np.dstack([photo, alpha])))).astype(np.float64)
    assert np.abs(out - over_white(photo, alpha)).max() <= 1


# --- bombs and broken files --------------------------------------------------------------------------------------


def one_line(err: pytest.ExceptionInfo, *needles: str) -> str:
    msg = str(err.value)
    assert "\n" not in msg and isinstance(err.value, DataError)
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_header_over_the_cap_is_refused_before_decoding(tmp_path, recwarn):
    # 8000x8000 = 64 MP: under Pillow's own limit (~89 MP), over ours; the file holds a header only.
    path = palette_png(tmp_path / "bomb.png", 8000, 8000, rows=False)
    with pytest.raises(ImageError) as err:
        load_image(path)
    one_line(err, str(path), "8000x8000", MAX_PIXELS_ENV)
    with pytest.raises(ImageError) as err:  # a raised cap lets the header through; the missing rows then fail
        load_image(path, max_pixels=100_000_000)
    one_line(err, str(path), "truncated")
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_pillow_bomb_error_is_the_same_error(tmp_path):
    path = palette_png(tmp_path / "huge.png", 100_000, 100_000, rows=False)
    with pytest.raises(ImageError) as err:
        load_image(path, max_pixels=10**12)
    one_line(err, str(path), "decompression bomb")


def test_cap_from_environment(photo, monkeypatch):
    blob = encode(Image.fromarray(photo), "PNG")
    monkeypatch.setenv(MAX_PIXELS_ENV, "1e5")
    with pytest.raises(ImageError) as err:
        load_image(blob, name="shard-000.tar:0001")
    one_line(err, "shard-000.tar:0001", "512x384")
    assert load_image(blob, max_pixels=DEFAULT_MAX_PIXELS).size == (512, 384)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(ImageError) as err:
        load_image(blob)
    one_line(err, MAX_PIXELS_ENV, "lots")


# Peak RSS from VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss (pytest's, with torch) into the child.
RSS_PROBE = """
import json, sys
from PIL import Image
def peak_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
mode, path = sys.argv[1], sys.argv[2]
if mode == "emozoo":
    from emozoo.images import ImageError, load_image
    Image.init()
before = peak_kib()
refused = False
try:
    if mode == "emozoo":
        load_image(path)
    else:
        Image.open(path).load()  # the old reader: decode first, convert later
except ImageError as err:
    refused = True
after = peak_kib()
print(json.dumps({"refused": refused, "grew_mb": (after - before) / 1024}))
"""


def rss_probe(mode: str, path: Path) -> dict:
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, mode, str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_real_palette_bomb_costs_no_memory(tmp_path):
    # A genuine 7000x7000 palette PNG (49 MP, a 60 KB file): Pillow alone decodes it without a warning.
    path = palette_png(tmp_path / "big-palette.png", 7000, 7000)
    with Image.open(path) as im:
        assert im.size == (7000, 7000)
    ours = rss_probe("emozoo", path)
    assert ours["refused"] and ours["grew_mb"] < 10, ours
    old = rss_probe("pillow", path)
    assert not old["refused"] and old["grew_mb"] > 40, old  # the reference: decoding costs the 49 MB


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda blob: blob[: len(blob) // 2], "truncated"),
        (lambda blob: b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, ""),
        (lambda blob: b"", "not an image"),
        (lambda blob: b"<html>not an image</html>", "not an image"),
    ],
    ids=["truncated-jpeg", "garbage-after-jpeg-magic", "empty", "html"],
)
def test_broken_files_raise_one_line(photo, tmp_path, make, needle):
    path = tmp_path / "broken.jpg"
    path.write_bytes(make(encode(Image.fromarray(photo), "JPEG")))
    with pytest.raises(ImageError) as err:
        load_image(path)
    one_line(err, str(path), needle)


def test_file_names_cannot_break_the_one_line(tmp_path):
    path = tmp_path / "evil\nname\x1b[31m.jpg"
    path.write_bytes(b"not an image")
    with pytest.raises(ImageError) as err:
        load_image(path)
    assert "evil\\nname\\x1b[31m.jpg" in one_line(err)


def test_truncated_png_and_missing_file(photo, tmp_path):
    blob = encode(Image.fromarray(photo), "PNG")
    with pytest.raises(ImageError) as err:
        load_image(blob[: len(blob) // 3], name="cut.png")
    one_line(err, "cut.png")
    with pytest.raises(ImageError) as err:
        load_image(tmp_path / "nope.jpg")
    one_line(err, "nope.jpg", "no such file")


def test_eps_never_reaches_ghostscript(monkeypatch):
    from PIL import EpsImagePlugin

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: pytest.fail("Ghostscript ran"))
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n0 0 moveto 16 16 lineto stroke\n%%EOF\n"
    with pytest.raises(ImageError) as err:
        load_image(eps, name="figure.eps")
    one_line(err, "figure.eps", "not an image format")


# --- the JPEG draft fast path ------------------------------------------------------------------------------------


def test_draft_decodes_large_jpeg_at_a_reduced_scale(photo):
    big = Image.fromarray(skdata.astronaut()).resize((2048, 2048), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6
    blob = encode(big.crop((0, 0, 2048, 1536)), "JPEG", quality=95, exif=exif)
    full = load_image(blob)
    fast = load_image(blob, min_side=300)
    assert full.size == (1536, 2048)
    assert fast.size == (384, 512)  # 1/4 scale: the smallest that keeps both sides >= 300, turned upright
    small = np.asarray(full.resize(fast.size, Image.Resampling.BOX)).astype(float)
    assert np.abs(np.asarray(fast).astype(float) - small).mean() < 3
    assert load_image(blob, min_side=1000).size == (1536, 2048)  # no scale keeps 1000: decoded in full


# --- arrays and tensors -------------------------------------------------------------------------------------------


def test_to_pil_layouts(photo):
    t = torch.from_numpy(photo.copy())
    for x in (photo, t.permute(2, 0, 1), t, t.permute(2, 0, 1)[None], photo / 255.0, t.permute(2, 0, 1) / 255.0):
        out = to_pil(x)
        assert out.size == (512, 384)
        assert np.abs(np.asarray(out).astype(int) - photo).max() <= 1
    grey = photo[..., 0]
    np.testing.assert_array_equal(np.asarray(to_pil(grey[..., None])), grey)
    np.testing.assert_array_equal(np.asarray(to_pil(torch.from_numpy(grey.copy())[None])), grey)
    np.testing.assert_array_equal(np.asarray(load_image(photo)), photo)
    assert np.abs(np.asarray(load_image(gradient16()))[..., 0] - np.rint(gradient16() / 257)).max() <= 1


@pytest.mark.parametrize(
    ("x", "needle"),
    [
        (np.zeros((2, 8, 8, 3), np.uint8), "got (2, 8, 8, 3)"),
        (np.zeros((8, 8, 2), np.uint8), "C in 1, 3, 4"),
        (np.zeros((3, 8, 8), np.uint8), "transpose(1, 2, 0)"),
        (np.zeros(8, np.uint8), "got (8,)"),
        (np.zeros((0, 8, 3), np.uint8), "got (0, 8, 3)"),
        (np.zeros((8, 8, 3), np.int64), "dtype int64"),
        (np.full((8, 8, 3), 2.0), "[0, 1]"),
        (np.full((8, 8, 3), np.nan), "NaN"),
        (torch.zeros(2, 3, 8, 8), "got (2, 3, 8, 8)"),
        ([[1, 2], [3, 4]], "list"),
    ],
)
def test_to_pil_rejects_what_is_not_an_image(x, needle):
    with pytest.raises(ImageError) as err:
        load_image(x)
    one_line(err, needle)
