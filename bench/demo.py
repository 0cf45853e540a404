"""The demo's speed levers (issue #14), each measured side by side in one run on the CPU at hand.

    python bench/demo.py [--faces 3000] [--rounds 3] [--steps 40] [--only gen cache workers precision]

1. **gen**: ms per SynthFace face rendered and encoded at the old 128 px against the size the demo now reads
   (``data.synthface.image_size``: the demo's crop, 48 px / 0.62 = 77 px), in alternating rounds.
2. **cache**: training images/s of the real loop the demo runs, the training pipeline (resampled shards, shuffle,
   decode, crop, flip, collate, 2 loader workers) feeding cnn-tiny at the demo's size (forward, ``total_loss``,
   backward, AdamW, fp32) with the decode cache (``data.cache_mb``) off and on. Steady state: the first pass of
   each loader fills its cache and is not timed; the timed passes alternate between the two loaders.
3. **workers**: the same loop with the cache on, with 1 and with 2 loader workers (the model takes the cores that
   the workers leave idle once the cache is full).
4. **precision**: the model's training step alone in fp32 and under bf16 autocast (``trainer.precision=auto``
   picks fp32 on a CPU; this shows what that rule is worth here). Few bf16 steps: on a CPU without native bf16 a
   step takes seconds.

The absolute figures are this CPU's (its name is printed); the ratios are what carries to other machines.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import cpu_name  # noqa: E402

import emozoo  # noqa: E402
from emozoo.backbones import create_transform  # noqa: E402
from emozoo.data.pipeline import make_loader, train_pipeline  # noqa: E402
from emozoo.data.sample_cache import SampleCache  # noqa: E402
from emozoo.data.shardset import find_shards  # noqa: E402
from emozoo.losses import total_loss  # noqa: E402
from emozoo.synthface.generate import (  # noqa: E402
    SynthFaceConfig,
    generate_synthface,  # noqa: E402
    make_sample,
)
from emozoo.synthface.raters import RaterPanel  # noqa: E402

WEIGHTS = {"intensity": 1.0, "binary": 1.0, "distribution": 0.5}
SIZE, CROP, GEN_SIZE = 48, 0.62, 77


def bench_gen(faces: int, rounds: int) -> None:
    panel = RaterPanel.create(0, 8)
    best = {128: float("inf"), GEN_SIZE: float("inf")}
    for r in range(rounds):
        for size in best:
            cfg = SynthFaceConfig(image_size=size)
            start = time.perf_counter()
            for i in range(faces):
                make_sample(cfg, panel, "big", r * faces + i)
            best[size] = min(best[size], (time.perf_counter() - start) / faces * 1e3)
    old, new = best[128], best[GEN_SIZE]
    print(f"gen: {old:.2f} ms/face at 128 px, {new:.2f} at {GEN_SIZE} px: {new / old:.2f}x the time")


def _model():
    return emozoo.create_model("cnn-tiny", "mlp", backbone_args={"img_size": SIZE}, head_args={"hidden_dim": 256})


def _loader(shards, cache_on: bool, workers: int, steps: int):
    model = _model()
    cfg = dataclasses.replace(model.data_config, crop_pct=CROP)
    cache = SampleCache(shards.urls, shards.counts, cfg.input_size, 2**30) if cache_on else None
    per_worker = max(1, steps // max(1, workers))
    transform = create_transform(cfg, train=True)
    pipe = train_pipeline(shards.urls, transform, 64, per_worker, ["weak"], 1000, 0, cache=cache)
    loader = make_loader(pipe, workers)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    return model, optimizer, loader


def _pass(model, optimizer, loader) -> float:
    """Images per second of one pass of training steps."""
    seen, start = 0, time.perf_counter()
    for batch in loader:
        loss = total_loss(model(batch["image"]), batch, WEIGHTS)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += batch["num_samples"]
    return seen / (time.perf_counter() - start)


def _side_by_side(setups: dict[str, tuple], rounds: int) -> dict[str, float]:
    for setup in setups.values():
        _pass(*setup)  # fills the cache; loader workers start
    best = dict.fromkeys(setups, 0.0)
    for _ in range(rounds):
        for name, setup in setups.items():
            best[name] = max(best[name], _pass(*setup))
    return best


def bench_cache(shards, steps: int, rounds: int) -> None:
    rates = _side_by_side({"off": _loader(shards, False, 2, steps), "on": _loader(shards, True, 2, steps)}, rounds)
    print(f"cache: {rates['off']:.0f} img/s without, {rates['on']:.0f} with: {rates['on'] / rates['off']:.2f}x")


def bench_workers(shards, steps: int, rounds: int) -> None:
    rates = _side_by_side({w: _loader(shards, True, w, steps) for w in (1, 2)}, rounds)
    print(f"workers (cache on): {rates[1]:.0f} img/s with 1, {rates[2]:.0f} with 2: {rates[1] / rates[2]:.2f}x")


def bench_precision(steps: int) -> None:
    model, batch = _model(), {"image": torch.randn(64, 3, SIZE, SIZE)}
    batch.update(intensity=torch.zeros(64, 40), intensity_mask=torch.ones(64, 40, dtype=torch.bool))
    batch.update(binary_yes=torch.zeros(64, 40), binary_n=torch.zeros(64, 40))
    batch.update(distribution=torch.full((64, 40), 1 / 40), distribution_mask=torch.ones(64, dtype=torch.bool))
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)

    def rate(bf16: bool, n: int) -> float:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        start = time.perf_counter()
        for _ in range(n):
            with ctx:
                loss = total_loss(model(batch["image"]), batch, WEIGHTS)["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return 64 * n / (time.perf_counter() - start)

    rate(False, 2), rate(True, 1)  # first calls
    fp32, bf16 = rate(False, steps), rate(True, max(2, steps // 10))
    print(f"precision: fp32 {fp32:.0f} img/s, bf16 autocast {bf16:.0f}: bf16 is {bf16 / fp32:.2f}x fp32")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--faces", type=int, default=3000, help="SynthFace Big faces for the training loops")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=40, help="training steps per timed pass")
    p.add_argument("--only", nargs="+", default=["gen", "cache", "workers", "precision"])
    p.add_argument("--shards", default=None, help="an existing SynthFace root (its big/train) instead of --faces new")
    args = p.parse_args()
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if "gen" in args.only:
        bench_gen(60, args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        if {"cache", "workers"} & set(args.only):
            if args.shards is None:
                kwargs = {"num_binary": 0, "num_hq_val": 0, "num_hq_test": 0, "image_size": GEN_SIZE}
                generate_synthface(tmp, num_big=args.faces, progress=False, **kwargs)
            shards = find_shards(args.shards or tmp, "big", "train")
            if "cache" in args.only:
                bench_cache(shards, args.steps, args.rounds)
            if "workers" in args.only:
                bench_workers(shards, args.steps, args.rounds)
    if "precision" in args.only:
        bench_precision(args.steps)


if __name__ == "__main__":
    main()
