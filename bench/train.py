"""Lightning training throughput vs a hand-written PyTorch loop: same model, data, optimizer and precision.

    python bench/train.py [--backbone cnn-tiny] [--steps 60] [--batch 64] [--threads 2]

Both loops run the same ``EmotionModule`` step logic (forward, masked losses, AdamW, bf16 autocast on the CPU) over
the same in-memory batches, alternating rounds so that machine noise hits both alike. Prints images/s and the ratio
Lightning / hand-written (goal >= 0.95).
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch

import emozoo
from emozoo.losses import total_loss
from emozoo.module import EmotionModule

WEIGHTS = {"intensity": 1.0, "binary": 1.0, "distribution": 0.5}


def batches(n: int, batch: int, size: int) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        weak = torch.randint(0, 8, (batch, 40), generator=g).float() * (torch.rand(batch, 40, generator=g) < 0.1)
        out.append({
            "image": torch.randn(batch, 3, size, size, generator=g),
            "intensity": weak, "intensity_mask": torch.ones(batch, 40, dtype=torch.bool),
            "binary_yes": torch.zeros(batch, 40), "binary_n": torch.zeros(batch, 40),
            "distribution": torch.full((batch, 40), 1 / 40), "distribution_mask": torch.zeros(batch, dtype=torch.bool),
            "num_samples": batch, "num_bad": 0, "bad": [],
        })
    return out


def hand_loop(model, data, lr: float) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    start = time.perf_counter()
    for batch in data:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(batch["image"])
            loss = total_loss(out, batch, WEIGHTS)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return sum(b["num_samples"] for b in data) / (time.perf_counter() - start)


class _Timer(L.Callback):
    def on_train_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        self.seconds = time.perf_counter() - self.start


def lightning_loop(model, data, lr: float) -> float:
    module = EmotionModule(model, WEIGHTS, lr=lr, warmup_frac=0.0)
    timer = _Timer()
    trainer = L.Trainer(accelerator="cpu", devices=1, precision="bf16-mixed", max_steps=len(data), logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        gradient_clip_val=1.0, callbacks=[timer], limit_val_batches=0)
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(data, batch_size=None))
    return sum(b["num_samples"] for b in data) / timer.seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="cnn-tiny")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = batches(args.steps, args.batch, args.size)
    hand, light = [], []
    for _ in range(args.rounds):
        torch.manual_seed(0)
        hand.append(hand_loop(emozoo.create_model(args.backbone, backbone_args={"img_size": args.size}), data, 1e-3))
        torch.manual_seed(0)
        light.append(lightning_loop(emozoo.create_model(args.backbone, backbone_args={"img_size": args.size}), data,
                                    1e-3))
    h, lt = statistics.median(hand), statistics.median(light)
    print(f"backbone={args.backbone} batch={args.batch} size={args.size} steps={args.steps} threads={args.threads} "
          f"bf16 CPU, median of {args.rounds} alternating rounds")
    print(f"hand-written loop  {h:8.1f} img/s")
    print(f"Lightning          {lt:8.1f} img/s")
    print(f"ratio Lightning/hand  {lt / h:.3f}  (goal >= 0.95)")


if __name__ == "__main__":
    main()
