"""Crash-safe checkpoints: atomic writes, finding the newest complete checkpoint, pruning old HPC checkpoints.

Lightning's SLURM support saves ``hpc_ckpt_<n>.ckpt`` in ``default_root_dir`` on SIGUSR1 and requeues the job;
on the next start it restores the newest one by itself. We make every checkpoint write atomic (a crash while
saving leaves the previous checkpoint intact, never a truncated file that breaks resume) and keep only the newest
HPC checkpoint so they do not pile up across requeues.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.plugins.io import TorchCheckpointIO

__all__ = ["AtomicCheckpointIO", "PruneHPCCheckpoints", "newest_checkpoint"]

_HPC = re.compile(r"hpc_ckpt_(\d+)\.ckpt$")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes ``path.tmp`` then renames it over ``path``; a rename within a directory is atomic on POSIX."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        super().save_checkpoint(checkpoint, tmp, storage_options)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)


def newest_checkpoint(directory: str | Path) -> Path | None:
    """The newest complete checkpoint in ``directory``: HPC (requeue) and ``last``/step checkpoints by mtime.

    Temp files of an interrupted save (``.*.tmp``) are never returned.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    candidates = [p for p in directory.glob("*.ckpt") if not p.name.startswith(".") and p.name != "final.ckpt"]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.stat().st_mtime_ns, p.name))


class PruneHPCCheckpoints(L.Callback):
    """After a checkpoint is saved and at the start of training, keep only the newest ``hpc_ckpt_<n>.ckpt``."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def prune(self, trainer: L.Trainer) -> None:
        if not trainer.is_global_zero or not self.directory.is_dir():
            return
        found = sorted((int(m.group(1)), p) for p in self.directory.iterdir() if (m := _HPC.search(p.name)))
        for _, path in found[:-1]:
            path.unlink(missing_ok=True)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.prune(trainer)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self.prune(trainer)  # runs before the new file is written: older ones go, the newest stays until replaced
