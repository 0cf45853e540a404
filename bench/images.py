"""Image reading: ``emozoo.images.load_image`` against plain ``Image.open(...).convert("RGB")``, side by side.

    python bench/images.py [--rounds 5] [--min-side 224]

On the astronaut photograph (scikit-image), upscaled to a few sizes up to a 12 MP phone photo, as JPEG (also one
with an EXIF orientation, which ``load_image`` turns upright), an RGBA PNG and a 16-bit grey PNG, in memory:

- **read**: ``load_image(blob)`` against the plain read; what the correct reading (orientation, alpha over white,
  16-bit scaling, the pixel cap) costs. Goal: <= 1.05x on plain RGB JPEGs.
- **draft**: ``load_image(blob, min_side=224)``, which decodes a large JPEG at 1/2, 1/4 or 1/8 scale (libjpeg's
  DCT scaling) keeping both sides >= 224, against the plain read.
- **+transform**: both followed by the vit-b16 eval transform (resize to 224, crop, normalise), the whole per-image
  cost in a loader worker; ``diff`` is the mean absolute difference of the two 224 px results in 0-255 units.

Rounds alternate between the methods and the best of each is kept (a shared machine only ever makes a round
slower). One thread: loader workers decode one image each.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import cpu_name  # noqa: E402  (bench/ is on sys.path when a script runs)

from emozoo.backbones import DataConfig, create_transform  # noqa: E402
from emozoo.images import load_image  # noqa: E402


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def cases() -> list[tuple[str, bytes]]:
    photo = Image.fromarray(skdata.astronaut())
    out = []
    for w, h in [(512, 512), (1024, 1024), (2048, 2048), (4032, 3024)]:
        out.append((f"JPEG {w}x{h}", encode(photo.resize((w, h), Image.Resampling.BICUBIC), "JPEG", quality=90)))
    exif = Image.Exif()
    exif[0x0112] = 6
    phone = photo.resize((4032, 3024), Image.Resampling.BICUBIC)
    out.append(("JPEG 4032x3024 EXIF 6", encode(phone, "JPEG", quality=90, exif=exif)))
    big = photo.resize((1024, 1024), Image.Resampling.BICUBIC)
    ramp = Image.linear_gradient("L").resize(big.size)
    out.append(("PNG RGBA 1024x1024", encode(Image.merge("RGBA", (*big.split(), ramp)), "PNG")))
    grey16 = (np.asarray(big.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    out.append(("PNG 16-bit grey 1024x1024", encode(Image.fromarray(grey16), "PNG")))
    return out


def best(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    times = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k] = min(times[k], time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-side", type=int, default=224)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = DataConfig(input_size=(3, 224, 224), interpolation="bicubic", crop_pct=0.9)
    tf = create_transform(cfg)
    print(f"CPU: {cpu_name()}; Pillow {Image.__version__}; best of {args.rounds} rounds, one thread")
    header = f"{'image':28} {'plain ms':>9} {'read':>14} {'draft':>14} {'plain+tf':>9} {'draft+tf':>14} {'diff':>5}"
    print(header)
    for name, blob in cases():

        def plain(blob=blob):
            return Image.open(io.BytesIO(blob)).convert("RGB")

        fns = {
            "plain": plain,
            "read": lambda blob=blob: load_image(blob),
            "draft": lambda blob=blob: load_image(blob, min_side=args.min_side),
            "plain+tf": lambda: tf(plain()),
            "draft+tf": lambda blob=blob: tf(load_image(blob, min_side=args.min_side)),
        }
        t = best(fns, args.rounds)
        diff = (tf(load_image(blob)) - tf(load_image(blob, min_side=args.min_side))).abs().mean().item()
        diff *= 255 * cfg.std[0]  # normalised units back to 0-255 (one std for all channels)

        def cell(k: str, ref: str, t: dict[str, float] = t) -> str:
            return f"{t[k] * 1e3:7.1f} {t[k] / t[ref]:5.2f}x"

        print(
            f"{name:28} {t['plain'] * 1e3:9.1f} {cell('read', 'plain'):>14} {cell('draft', 'plain'):>14} "
            f"{t['plain+tf'] * 1e3:9.1f} {cell('draft+tf', 'plain+tf'):>14} {diff:5.2f}"
        )


if __name__ == "__main__":
    main()
