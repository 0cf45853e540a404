"""Lightning callbacks that are not about checkpoints: training throughput."""

from __future__ import annotations

import time

import lightning as L

__all__ = ["Throughput"]


class Throughput(L.Callback):
    """Training images per second on this rank, measured over the whole fit after the first ``warmup`` batches.

    The first batches include worker start-up and allocation, so they are left out. ``samples_per_second`` is
    multiplied by the world size to give the job's rate (every rank runs the same number of steps).
    """

    def __init__(self, warmup: int = 5):
        self.warmup = warmup
        self.samples = 0
        self.start: float | None = None
        self.seconds = 0.0
        self.world_size = 1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup and self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.start is not None:
            self.samples += int(batch.get("num_samples", 0))
            self.seconds = time.perf_counter() - self.start
        self.world_size = trainer.world_size

    @property
    def samples_per_second(self) -> float | None:
        if self.start is None or self.seconds <= 0:
            return None
        return self.samples * self.world_size / self.seconds
