"""Lightning training throughput vs a hand-written PyTorch loop: same model, data, optimizer and precision.

    python bench/train.py [--backbone cnn-tiny] [--steps 60] [--warmup 5] [--batch 64] [--size 64] [--rounds 5]
                          [--threads 1]

The Lightning side is the real thing users run: ``EmotionModule`` (masked losses, per-step logging, bad-sample
accounting, AdamW with weight-decay groups, warm-up + cosine schedule) under ``L.Trainer`` with bf16-mixed
precision and gradient clipping. The hand-written side is the same model and the same step written directly in
PyTorch: bf16 autocast on the CPU, the same ``total_loss``, AdamW, clipping. Both run over the same in-memory
batches, so the ratio is the cost of the framework alone. Steady-state images/s are timed after ``--warmup``
steps (allocator and first-call costs), in alternating rounds so that machine noise hits both alike; the ratio is
the median of the paired rounds' ratios. Goal >= 0.95.

One torch thread by default: on a shared machine a descheduled OpenMP thread stalls every operator, which made
single rounds 3x slower at random with two threads here (see bench/README.md).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import lightning as L
import torch

import emozoo
from emozoo.losses import total_loss
from emozoo.module import EmotionModule

WEIGHTS = {"intensity": 1.0, "binary": 1.0, "distribution": 0.5}


def batches(n: int, batch: int, size: int) -> list[dict]:
    """Weak-label batches shaped like the pipeline's (the targets ``derive_targets`` gives)."""
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        weak = torch.randint(0, 8, (batch, 40), generator=g).float() * (torch.rand(batch, 40, generator=g) < 0.1)
        total = weak.sum(1, keepdim=True)
        out.append(
            {
                "image": torch.randn(batch, 3, size, size, generator=g),
                "intensity": weak,
                "intensity_mask": torch.ones(batch, 40, dtype=torch.bool),
                "binary_yes": torch.zeros(batch, 40),
                "binary_n": torch.zeros(batch, 40),
                "distribution": torch.where(total > 0, weak / total.clamp_min(1e-9), 1 / 40),
                "distribution_mask": total[:, 0] > 0,
                "num_samples": batch,
                "num_bad": 0,
                "bad": [],
            }
        )
    return out


def hand_loop(model: torch.nn.Module, data: list[dict], warmup: int, lr: float) -> float:
    """Steady-state images/s of a plain PyTorch loop over ``data`` (the first ``warmup`` steps untimed)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    model.train()
    start = None
    for step, batch in enumerate(data):
        if step == warmup:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(batch["image"])
        loss = total_loss(out, batch, WEIGHTS)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return sum(b["num_samples"] for b in data[warmup:]) / (time.perf_counter() - start)


class _Timer(L.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        self.end = time.perf_counter()


def lightning_loop(model: torch.nn.Module, data: list[dict], warmup: int, lr: float) -> float:
    """Steady-state images/s of ``EmotionModule`` under ``L.Trainer`` over ``data``."""
    module = EmotionModule(model, WEIGHTS, lr=lr)
    timer = _Timer(warmup)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        precision="bf16-mixed",
        max_steps=len(data),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        callbacks=[timer],
        limit_val_batches=0,
    )
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(data, batch_size=None))
    return sum(b["num_samples"] for b in data[warmup:]) / (timer.end - timer.start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default="cnn-tiny", help="a registered backbone (random init)")
    p.add_argument("--steps", type=int, default=60, help="steps per round, warm-up included")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps at the start of each round")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=64, help="image side")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    data = batches(args.steps, args.batch, args.size)

    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        return emozoo.create_model(args.backbone, backbone_args={"img_size": args.size})

    print(
        f"backbone={args.backbone} batch={args.batch} size={args.size} steps={args.steps} (warm-up {args.warmup}) "
        f"threads={args.threads}, bf16 autocast on the CPU, {args.rounds} alternating rounds"
    )
    hand, light = [], []
    for r in range(args.rounds):
        hand.append(hand_loop(model(), data, args.warmup, 1e-3))
        light.append(lightning_loop(model(), data, args.warmup, 1e-3))
        print(f"  round {r + 1}: hand-written {hand[-1]:7.1f} img/s, Lightning {light[-1]:7.1f} img/s")
    ratio = statistics.median(lt / h for h, lt in zip(hand, light))
    print(f"hand-written loop  {statistics.median(hand):8.1f} img/s (median)")
    print(f"Lightning          {statistics.median(light):8.1f} img/s (median)")
    print(f"ratio Lightning/hand  {ratio:.3f}  (median of paired rounds; goal >= 0.95)")


if __name__ == "__main__":
    main()
