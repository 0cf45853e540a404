"""``emozoo predict`` throughput vs a bare backbone+head forward, bf16: how much does the pipeline cost?

    python bench/predict.py [--backbone vit-b16] [--images 64] [--batch 16] [--workers 1] [--threads 1] [--rounds 3]
    python bench/predict.py --device cuda --images 512 --batch 64 --workers 8   # on a GPU machine

Both sides run the same ``EmotionModel`` on ``--device`` (default cpu) under that device's bf16 autocast and
``inference_mode``:

- **bare**: the model on batches of already-preprocessed tensors held in memory on the device (no I/O, no
  decoding);
- **predict**: ``emozoo.inference.predict_files``, the ``emozoo predict`` code path, on JPEG files on disk
  (``--workers`` decoding processes, uint8 batches pinned and normalised on the device, JSONL written),
  including the loader's start-up.

Images/s use the best of ``--rounds``; ``ratio`` (predict / bare speed) is the median over rounds of the paired
ratio, so load that other processes put on both calls of a round cancels. The goal is ratio >= 0.95: decoding
overlapped with the forward pass, so the model never waits. One compute thread by default (a descheduled OpenMP
thread stalls every operator on a shared machine); workers decode on the remaining cores. The default ViT-B/16
is the smallest realistic encoder; ``--backbone vit-tiny`` is the worst case (decoding ~1 ms/image is then ~6% of
the forward, and on an oversubscribed machine the worker's CPU comes partly out of the forward's share).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from emozoo.devices import autocast, resolve_device
from emozoo.inference import predict_files
from emozoo.model import create_model


def _write_images(directory: Path, n: int, size: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        # smooth noise compresses like a photo, unlike white noise (which makes JPEG decoding unrealistically slow)
        small = rng.integers(0, 255, (size // 16, size // 16, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((size, size), Image.BICUBIC)
        paths.append(directory / f"img{i:05d}.jpg")
        img.save(paths[-1], quality=90)
    return paths


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _bare(model, batches: list[torch.Tensor], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    with torch.inference_mode(), autocast("bf16", device):
        for x in batches:
            model(x)["intensity"].float().cpu()  # waits for the device, as predict's copy of its outputs does
    return time.perf_counter() - start


def _predict(model, image_dir: Path, out: Path, batch: int, workers: int):
    start = time.perf_counter()
    result = predict_files(model, [image_dir], out, batch_size=batch, workers=workers, precision="bf16")
    result.seconds = time.perf_counter() - start
    assert result.images == len(list(image_dir.glob("*.jpg"))) and not result.skipped
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="vit-b16", help="registry name (random init; only speed is measured)")
    p.add_argument("--head", default="mlp")
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--image-size", type=int, default=320, help="side of the JPEGs on disk (resized by the model)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda, cuda:N or mps (default: cpu)")
    args = p.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model(args.backbone, args.head).eval().to(device)
    tf = model.transform()
    with tempfile.TemporaryDirectory() as tmp:
        image_dir = Path(tmp) / "images"
        image_dir.mkdir()
        paths = _write_images(image_dir, args.images, args.image_size)
        tensors = torch.stack([tf(Image.open(p)) for p in paths]).to(device)
        batches = list(tensors.split(args.batch))
        _bare(model, batches[:1], device)  # warm-up: first-call allocations, kernel selection
        bare_t, runs = [], []
        for _ in range(args.rounds):
            bare_t.append(_bare(model, batches, device))
            runs.append(_predict(model, image_dir, Path(tmp) / "pred.jsonl", args.batch, args.workers))
    pred_t = [r.seconds for r in runs]
    waits = [r.wait / r.seconds for r in runs]
    n = args.images
    ratio = statistics.median(b / q for b, q in zip(bare_t, pred_t))
    print(
        f"model {args.backbone}+{args.head} @ {'x'.join(map(str, model.data_config.input_size[1:]))} on {device}, "
        f"bf16 autocast, {n} JPEGs {args.image_size}px, batch {args.batch}, {args.threads} thread(s), "
        f"{args.workers} decode worker(s)"
    )
    print(f"bare forward    {n / min(bare_t):8.1f} images/s  (best of {args.rounds}; rounds {_fmt(bare_t)} s)")
    print(f"emozoo predict  {n / min(pred_t):8.1f} images/s  (best of {args.rounds}; rounds {_fmt(pred_t)} s)")
    print(f"predict waited for decoded images {100 * statistics.median(waits):.1f}% of its time (median of rounds)")
    print(f"ratio predict/bare = {ratio:.3f} (median of paired rounds; goal >= 0.95)")


def _fmt(ts: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in ts)


if __name__ == "__main__":
    main()
