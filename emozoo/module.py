"""``EmotionModule``: the LightningModule. It holds no network code: the model is built outside and passed in.

Each stage has its own metric objects (train/val/test) plus a ``MeanMetric`` for the loss. The test stage collects
predictions and per-rater ratings across ranks and runs the paper's agreement protocol on the union; its step is
``emozoo.scoring.forward_batch``, the one ``emozoo eval`` and ``emozoo predict`` use.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric, Metric

from emozoo.errors import DataError
from emozoo.finetune import param_groups
from emozoo.losses import total_loss
from emozoo.metrics import EmotionSpearman
from emozoo.scoring import forward_batch

__all__ = ["EmotionModule"]


class _Collect(Metric):
    """Concatenates tensors across steps and ranks (NaN kept, shapes kept), for the agreement protocol."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, value: torch.Tensor) -> None:
        self.values.append(value.detach().float())

    def compute(self) -> torch.Tensor:
        vals = self.values
        return torch.cat(vals) if isinstance(vals, list) else vals


class EmotionModule(L.LightningModule):
    """Trains and evaluates an ``EmotionModel``.

    Args:
        model: the network (``emozoo.model.EmotionModel``).
        loss_weights: ``{"intensity", "binary", "distribution"}`` weights; the stage's targets decide which apply.
        lr: peak learning rate (head; backbone blocks may get less through ``layer_decay``/``backbone_lr_scale``).
        weight_decay: AdamW weight decay (not applied to biases, norms and embeddings).
        layer_decay: layer-wise LR decay factor per backbone block, or None.
        backbone_lr_scale: multiplier on the backbone's learning rate.
        warmup_frac: fraction of the steps with linear warm-up before the cosine decay.
        betas: AdamW betas.
        max_bad_fraction: stop with an error when more than this fraction of a training epoch's samples is bad.
        report_dir: where the test stage writes the agreement report; None writes nothing.
        rater_names: rater ids, in the column order of the batches' ``ratings``.
        n_bootstrap: bootstrap resamples for the report's confidence intervals.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_weights: dict[str, float] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        layer_decay: float | None = None,
        backbone_lr_scale: float = 1.0,
        warmup_frac: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.999),
        max_bad_fraction: float = 0.01,
        report_dir: str | None = None,
        rater_names: list[str] | None = None,
        n_bootstrap: int = 1000,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.loss_weights = dict(loss_weights or {"intensity": 1.0, "binary": 1.0, "distribution": 0.5})
        self.train_loss = MeanMetric()
        self.val_loss = MeanMetric()
        self.val_spearman = EmotionSpearman(num_outputs=model.head.num_emotions)
        self.test_spearman = EmotionSpearman(num_outputs=model.head.num_emotions)
        self.test_preds = _Collect()
        self.test_ratings = _Collect()
        self._bad = {"bad": 0, "seen": 0, "messages": []}
        self.report: dict[str, Any] | None = None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model(images)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The network is built outside this module, so its hyperparameters do not describe it: store what
        # `emozoo zoo export` needs to rebuild it from the checkpoint alone.
        from emozoo.zoo.format import model_record

        checkpoint["emozoo"] = model_record(self.model)

    def _outputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Images through the whole model, or cached embeddings (``batch["embedding"]``) through the head only.

        The step ``emozoo eval`` and ``emozoo predict`` take too (``emozoo.scoring``); the test stage keeps
        Lightning's loop around it, for the reasons given there.
        """
        return forward_batch(self.model, batch)

    def _count_bad(self, batch: dict[str, Any]) -> None:
        self._bad["bad"] += int(batch.get("num_bad", 0))
        self._bad["seen"] += int(batch.get("num_samples", 0))
        msgs = batch.get("bad") or []
        self._bad["messages"].extend(m for m in msgs if len(self._bad["messages"]) < 1000)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        self._count_bad(batch)
        if not batch.get("num_samples", 1):
            return None
        terms = total_loss(self._outputs(batch), batch, self.loss_weights)
        self.train_loss.update(terms["loss"].detach())
        self.log("train/loss", terms["loss"].detach(), prog_bar=True, batch_size=batch["num_samples"])
        if self._logger_writes_this_step():
            for name, value in terms.items():
                if name != "loss":
                    self.log(f"train/loss_{name}", value.detach(), batch_size=batch["num_samples"])
        return terms["loss"]

    def _logger_writes_this_step(self) -> bool:
        """Whether the trainer's loggers write this step's values (every ``log_every_n_steps`` optimizer steps).

        Why: each ``self.log`` call costs ~0.5 ms of Lightning bookkeeping on a CPU, whether or not the value is
        ever written; the loss terms are only logged when they will be (bench/train.py measures the overhead).
        """
        trainer = self._trainer
        if trainer is None:
            return True
        return (self.global_step + 1) % max(1, trainer.log_every_n_steps) == 0

    def on_train_epoch_end(self) -> None:
        self.log("train/epoch_loss", self.train_loss.compute(), sync_dist=False)
        self.train_loss.reset()
        counts = torch.tensor([self._bad["bad"], self._bad["seen"]], dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            counts = self.trainer.strategy.reduce(counts, reduce_op="sum")
        bad, seen = counts.tolist()
        self.log("data/bad_samples", bad, sync_dist=False)
        fraction = bad / max(bad + seen, 1.0)
        messages = self._bad["messages"]
        self._bad = {"bad": 0, "seen": 0, "messages": []}
        if messages:
            shards = sorted({m.split(":", 1)[0].removeprefix("shard ") for m in messages})
            print(f"[emozoo] skipped {int(bad)} bad samples this epoch; shards involved: {', '.join(shards[:10])}")
        if fraction > self.hparams.max_bad_fraction:
            shards = sorted({m.split(":", 1)[0] for m in messages})
            raise DataError(
                f"{bad:.0f} of {bad + seen:.0f} training samples were bad ({fraction:.1%} > "
                f"data.max_bad_fraction={self.hparams.max_bad_fraction}); shards involved: {', '.join(shards[:10])}. "
                f"First problem: {messages[0] if messages else '?'}"
            )

    def _eval_step(self, batch: dict[str, Any], loss_metric: MeanMetric | None, spearman: EmotionSpearman):
        if not batch.get("num_samples", 1):
            return None
        out = self._outputs(batch)
        if loss_metric is not None:
            loss_metric(total_loss(out, batch, self.loss_weights)["loss"].detach())
        target = torch.where(batch["intensity_mask"], batch["intensity"], torch.full_like(batch["intensity"], math.nan))
        # The ungated mean intensity ranks every image; the gated one ties all the "absent" ones at 0.
        spearman.update(out.get("expected_intensity", out["intensity"]).float(), target)
        return out

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, self.val_loss, self.val_spearman)

    def on_validation_epoch_end(self) -> None:
        self.log("val/loss", self.val_loss.compute())
        self.log("val/spearman", self.val_spearman.compute(), prog_bar=True)
        self.val_loss.reset()
        self.val_spearman.reset()

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self._eval_step(batch, None, self.test_spearman)
        if out is not None and "ratings" in batch:
            self.test_preds.update(out["intensity"])
            self.test_ratings.update(batch["ratings"])

    def on_test_epoch_end(self) -> None:
        self.log("test/spearman_vs_mean", self.test_spearman.compute())
        self.test_spearman.reset()
        if not self.test_preds.update_called:
            return
        preds = self.test_preds.compute().cpu()
        ratings = self.test_ratings.compute().cpu()
        self.test_preds.reset()
        self.test_ratings.reset()
        from emozoo.metrics import agreement_report

        out_dir = Path(self.hparams.report_dir) if self.hparams.report_dir and self.trainer.is_global_zero else None
        self.report = agreement_report(
            preds, ratings, rater_names=self.hparams.rater_names, n_bootstrap=self.hparams.n_bootstrap, out_dir=out_dir
        )
        self.log("test/mean_spearman", float(self.report["model"]["mean_spearman"]))
        self.log("test/random_mean_spearman", float(self.report["random"]["mean_spearman"]))
        self.log("test/raters_loo_mean_spearman", float(self.report["raters"]["loo_mean_spearman"]))

    def configure_optimizers(self):
        groups = param_groups(
            self.model,
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            layer_decay=self.hparams.layer_decay,
            backbone_lr_scale=self.hparams.backbone_lr_scale,
        )
        optimizer = torch.optim.AdamW(groups, lr=self.hparams.lr, betas=tuple(self.hparams.betas))
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(self.hparams.warmup_frac * total)

        def schedule(step: int) -> float:  # linear warm-up, then cosine to 0
            if step < warmup:
                return (step + 1) / (warmup + 1)
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
