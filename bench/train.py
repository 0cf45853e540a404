"""Lightning training throughput vs a hand-written PyTorch loop: same model, data, optimizer and precision.

    python bench/train.py [--backbone cnn-tiny] [--steps 60] [--warmup 5] [--batch 64] [--size 64] [--rounds 5]
                          [--threads 1] [--device cpu|cuda] [--freeze none|all|last_n_blocks=N] [--peak-tflops X]
                          [--precision auto|bf16-mixed|32-true]

    # the H100 figures (issue #7): SigLIP2-so400m at 384 px, frozen encoder and full fine-tune
    python bench/train.py --device cuda --backbone siglip2-so400m-16-384 --size 384 --batch 64 --freeze all
    python bench/train.py --device cuda --backbone siglip2-so400m-16-384 --size 384 --batch 32 --freeze none

The Lightning side is the real thing users run: ``EmotionModule`` (masked losses, per-step logging, bad-sample
accounting, AdamW with weight-decay groups, warm-up + cosine schedule) under ``L.Trainer`` with the training
precision (``--precision``; ``auto`` is the training default, ``emozoo.devices.training_precision``: fp32 on a
CPU) and gradient clipping. The hand-written side is the same model and the same step written directly in
PyTorch: the same autocast on the same device, the same ``total_loss``, AdamW, clipping. Both run over the same
in-memory batches, so the ratio is the cost of the framework alone. Steady-state images/s are timed after ``--warmup``
steps (allocator and first-call costs), in alternating rounds so that machine noise hits both alike; the ratio is
the median of the paired rounds' ratios. Goal >= 0.95.

Model FLOPs utilisation (MFU): the FLOPs of one training step are counted by ``torch.utils.flop_counter`` on the
real model (forward, and backward through what is trainable: a frozen encoder costs its forward only), times the
steady-state steps/s, over the card's dense bf16 peak (known for H100/H200/A100 by name, else ``--peak-tflops``).
Weights are random (no download); speed does not depend on them.

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
from emozoo.devices import training_precision
from emozoo.finetune import apply_freeze
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


# Dense bf16 peaks (no sparsity), matched in this order against the device name.
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.4, "H200": 989.4, "A100": 312.0}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def step_flops(model: torch.nn.Module, batch: dict, device: str) -> float:
    """FLOPs of one training step (forward + backward of the trainable part), counted on the real model."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        with torch.autocast(device, dtype=torch.bfloat16):
            out = model(batch["image"])
        total_loss(out, batch, WEIGHTS)["loss"].backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def _autocast(device: str, precision: str):
    return torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")


def hand_loop(
    model: torch.nn.Module, data: list[dict], warmup: int, lr: float, device: str = "cpu", precision: str = "bf16-mixed"
) -> float:
    """Steady-state images/s of a plain PyTorch loop over ``data`` (the first ``warmup`` steps untimed)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    model.train()
    start = None
    for step, batch in enumerate(data):
        if step == warmup:
            _sync(device)
            start = time.perf_counter()
        with _autocast(device, precision):
            out = model(batch["image"])
        loss = total_loss(out, batch, WEIGHTS)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    _sync(device)
    return sum(b["num_samples"] for b in data[warmup:]) / (time.perf_counter() - start)


class _Timer(L.Callback):
    def __init__(self, warmup: int, device: str) -> None:
        self.warmup, self.device, self.start, self.end = warmup, device, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            _sync(self.device)
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        _sync(self.device)
        self.end = time.perf_counter()


def lightning_loop(
    model: torch.nn.Module, data: list[dict], warmup: int, lr: float, device: str = "cpu", precision: str = "bf16-mixed"
) -> float:
    """Steady-state images/s of ``EmotionModule`` under ``L.Trainer`` over ``data``."""
    module = EmotionModule(model, WEIGHTS, lr=lr)
    timer = _Timer(warmup, device)
    trainer = L.Trainer(
        accelerator=device,
        devices=1,
        precision=precision,
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
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--freeze", default="none", help="backbone freeze: none | all | last_n_blocks=N")
    p.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of the device, for MFU")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16-mixed", "32-true"))
    args = p.parse_args()
    precision = training_precision(args.precision, args.device)
    if not 0 <= args.warmup < args.steps:
        p.error(f"--warmup {args.warmup} must be at least 0 and below --steps {args.steps}")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    data = [
        {k: v.to(args.device) if torch.is_tensor(v) else v for k, v in b.items()}
        for b in batches(args.steps, args.batch, args.size)
    ]  # preloaded on the device: the loop, not the transfer, is measured

    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        m = emozoo.create_model(args.backbone, backbone_args={"img_size": args.size}).to(args.device)
        apply_freeze(m.backbone, args.freeze)
        return m

    name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {args.threads} thread(s)"
    peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    flops = step_flops(model(), data[0], args.device)
    print(
        f"{name}: backbone={args.backbone} freeze={args.freeze} batch={args.batch} size={args.size} "
        f"steps={args.steps} (warm-up {args.warmup}), precision {precision}, {args.rounds} alternating rounds; "
        f"{flops / args.batch / 1e9:.1f} GFLOPs per image per training step"
    )
    hand, light = [], []
    for r in range(args.rounds):
        hand.append(hand_loop(model(), data, args.warmup, 1e-3, args.device, precision))
        light.append(lightning_loop(model(), data, args.warmup, 1e-3, args.device, precision))
        print(f"  round {r + 1}: hand-written {hand[-1]:8.1f} img/s, Lightning {light[-1]:8.1f} img/s")
    ratio = statistics.median(lt / h for h, lt in zip(hand, light))
    for label, rates in (("hand-written loop", hand), ("Lightning", light)):
        rate = statistics.median(rates)
        mfu = f", MFU {rate / args.batch * flops / (peak * 1e12):.1%} of {peak:.0f} TFLOPS" if peak else ""
        print(f"{label:18s} {rate:8.1f} img/s (median){mfu}")
    print(f"ratio Lightning/hand  {ratio:.3f}  (median of paired rounds; goal >= 0.95)")


if __name__ == "__main__":
    main()
