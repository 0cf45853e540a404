"""What EmotionModule logs during training: the loss every step, its terms whenever the logger writes."""

from __future__ import annotations

import csv

import lightning as L
import torch

import emozoo
from emozoo.module import EmotionModule


def _batches(n: int, size: int = 16, batch: int = 4) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    weak = torch.randint(0, 8, (batch, 40), generator=g).float()
    return [
        {
            "image": torch.randn(batch, 3, size, size, generator=g),
            "intensity": weak,
            "intensity_mask": torch.ones(batch, 40, dtype=torch.bool),
            "binary_yes": torch.zeros(batch, 40),
            "binary_n": torch.zeros(batch, 40),
            "distribution": weak / weak.sum(1, keepdim=True),
            "distribution_mask": torch.ones(batch, dtype=torch.bool),
            "num_samples": batch,
            "num_bad": 0,
            "bad": [],
        }
        for _ in range(n)
    ]


def test_loss_terms_reach_the_logger_at_every_logging_step(tmp_path):
    model = emozoo.create_model("cnn-tiny", backbone_args={"img_size": 16})
    module = EmotionModule(model, {"intensity": 1.0, "binary": 1.0, "distribution": 0.5})
    logger = L.pytorch.loggers.CSVLogger(tmp_path)
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=9,
        log_every_n_steps=3,
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(_batches(9), batch_size=None))
    with open(tmp_path / "lightning_logs" / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    logged = {int(r["step"]): r for r in rows if r.get("train/loss")}
    assert sorted(logged) == [2, 5, 8]
    for row in logged.values():  # every written row has the terms next to the loss, from the same step
        terms = {k: float(row[f"train/loss_{k}"]) for k in ("intensity", "binary", "distribution")}
        assert terms["binary"] == 0.0  # no binary answers in these batches
        expected = terms["intensity"] + 0.5 * terms["distribution"]
        assert abs(float(row["train/loss"]) - expected) < 1e-4
