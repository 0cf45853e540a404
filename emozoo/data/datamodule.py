"""``EmotionDataModule``: one training stage's loaders, built from the config and the backbone's transforms."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L

from emozoo.backbones import DataConfig, create_transform
from emozoo.data.pipeline import batches_per_worker, eval_pipeline, make_loader, train_pipeline
from emozoo.data.shardset import ShardSet, find_shards
from emozoo.errors import DataError

__all__ = ["EmotionDataModule"]


class EmotionDataModule(L.LightningDataModule):
    """Train/val/test loaders over shard sets.

    Args:
        root: data root holding ``<subset>/<split>-*.tar``.
        image_config: the backbone's preprocessing; transforms are built from it.
        train: ``(subset, split)`` for training, or None.
        val: ``(subset, split)`` for validation, or None.
        test: ``(subset, split)`` for the agreement protocol, or None.
        targets: label fields that drive the training loss.
        epochs: passes over the training split per Lightning epoch (the stage length is set in steps).
        batch_size: per-device training batch size.
        eval_batch_size: per-device evaluation batch size.
        num_workers: loader workers per device.
        shuffle_buffer: samples in the training shuffle buffer.
        augment: horizontal flips during training.
        seed: seeds shard resampling.
    """

    def __init__(
        self,
        root: str,
        image_config: DataConfig,
        train: tuple[str, str] | None = None,
        val: tuple[str, str] | None = None,
        test: tuple[str, str] | None = None,
        targets: Sequence[str] = ("weak",),
        epochs: float = 1.0,
        batch_size: int = 64,
        eval_batch_size: int = 128,
        num_workers: int = 2,
        shuffle_buffer: int = 1000,
        augment: bool = True,
        seed: int = 0,
    ):
        super().__init__()
        self.root = root
        self.image_config = image_config
        self.train_set = find_shards(root, *train) if train else None
        self.val_set = find_shards(root, *val) if val else None
        self.test_set = find_shards(root, *test) if test else None
        self.targets = tuple(targets)
        self.epochs = epochs
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.shuffle_buffer = shuffle_buffer
        self.augment = augment
        self.seed = seed
        self._loaders: list = []

    @property
    def rater_names(self) -> list[str]:
        return list(self.test_set.raters) if self.test_set else []

    def _world_size(self) -> int:
        return self.trainer.world_size if self.trainer is not None else 1

    def steps_per_epoch(self, world_size: int) -> int:
        """Optimizer steps per Lightning epoch on each rank (the same on every rank)."""
        shards = self.train_set
        if shards is None or not shards.num_samples:
            raise DataError("no training split with a sample count in its manifest.json")
        workers = max(1, self.num_workers)
        return batches_per_worker(shards.num_samples, self.epochs, self.batch_size, world_size, workers) * workers

    def train_dataloader(self):
        shards = self.train_set
        if shards is None:
            raise DataError("no training split configured")
        if not shards.num_samples:
            raise DataError(f"{shards.directory}/manifest.json has no sample count for split '{shards.split}'")
        workers = max(1, self.num_workers)
        per_worker = batches_per_worker(shards.num_samples, self.epochs, self.batch_size, self._world_size(), workers)
        pipe = train_pipeline(
            shards.urls,
            create_transform(self.image_config, train=self.augment),
            self.batch_size,
            per_worker,
            self.targets,
            self.shuffle_buffer,
            self.seed,
        )
        # The length lets the progress bar and the LR schedule know the epoch size; every rank has the same.
        return self._keep(make_loader(pipe.with_length(per_worker * workers), self.num_workers))

    def _eval_loader(self, shards: ShardSet | None, with_raters: bool):
        if shards is None:
            return []
        index = {r: i for i, r in enumerate(shards.raters)} if with_raters else None
        pipe = eval_pipeline(
            shards.urls, create_transform(self.image_config), self.eval_batch_size, rater_index=index
        )
        return self._keep(make_loader(pipe, min(self.num_workers, len(shards.urls))))

    def _keep(self, loader):
        self._loaders.append(loader)
        return loader

    def teardown(self, stage: str) -> None:
        # Persistent workers outlive the fit; stop them now, or a process forked later (the next stage's workers)
        # inherits their handles and fails when it garbage-collects them.
        for loader in self._loaders:
            for inner in [loader, *getattr(loader, "pipeline", [])]:  # a WebLoader wraps a DataLoader
                iterator = getattr(inner, "_iterator", None)
                if iterator is not None and hasattr(iterator, "_shutdown_workers"):
                    iterator._shutdown_workers()
                    inner._iterator = None
        self._loaders.clear()

    def val_dataloader(self):
        return self._eval_loader(self.val_set, with_raters=False)

    def test_dataloader(self):
        return self._eval_loader(self.test_set, with_raters=True)
