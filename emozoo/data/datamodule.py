"""``EmotionDataModule``: one training stage's loaders, built from the config and the backbone's transforms.

On an accelerator, images leave the loader workers as uint8 and are normalised in ``on_after_batch_transfer`` on
the device: a quarter of the bytes go through shared memory (the transform's two halves: ``ImageTransform``).

A shard set whose manifest has an ``embedding`` section (written by ``emozoo embed``) is read as cached
embeddings (``batch["embedding"]``) instead of images; ``embeddings=DIR`` looks every subset up under ``DIR``
instead of ``root``. Before any loader is built, ``setup`` refuses a model whose backbone did not make the
embeddings (``emozoo.data.embeddings.check_compatible``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from emozoo.backbones import DataConfig, create_transform
from emozoo.backbones.transforms import BatchNormalize
from emozoo.data.embeddings import check_compatible
from emozoo.data.pipeline import batches_per_worker, eval_pipeline, make_loader, train_pipeline
from emozoo.data.sample_cache import SampleCache
from emozoo.data.shardset import ShardSet, find_shards
from emozoo.errors import DataError

__all__ = ["EmotionDataModule"]


class EmotionDataModule(L.LightningDataModule):
    """Train/val/test loaders over shard sets.

    Args:
        root: data root holding ``<subset>/<split>-*.tar``.
        image_config: the backbone's preprocessing; transforms are built from it (None: embeddings only).
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
        embeddings: root of embedding shard sets (``<embeddings>/<subset>/<split>-*.tar`` from ``emozoo embed``)
            used instead of ``root``; None reads ``root``, which may itself hold embedding shard sets.
        cache_mb: shared memory for the training images after their deterministic preprocessing, so each is
            decoded once per fit instead of once per epoch (``emozoo.data.sample_cache``); 0 turns it off.
    """

    def __init__(
        self,
        root: str,
        image_config: DataConfig | None,
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
        embeddings: str | None = None,
        cache_mb: int = 0,
    ):
        super().__init__()
        self.root = root
        self.image_config = image_config
        self.embeddings = embeddings
        self.train_set = self._find(train)
        self.val_set = self._find(val)
        self.test_set = self._find(test)
        self.targets = tuple(targets)
        self.epochs = epochs
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.shuffle_buffer = shuffle_buffer
        self.augment = augment
        self.seed = seed
        self.cache_mb = cache_mb
        self._loaders: list = []
        # the transform's per-batch half, applied on the device (the same for train and eval transforms)
        self._normalize = BatchNormalize.from_config(image_config) if image_config is not None else None

    def _find(self, where: tuple[str, str] | None) -> ShardSet | None:
        if where is None:
            return None
        if self.embeddings is None:
            return find_shards(self.root, *where)
        try:
            shards = find_shards(self.embeddings, *where)
        except DataError as err:
            raise DataError(
                f"no embeddings of {where[0]}/{where[1]} under data.embeddings={self.embeddings} ({err}). Make them "
                f"with `emozoo embed --backbone NAME --data {Path(self.root) / where[0]} --split {where[1]} "
                f"--out {Path(self.embeddings) / where[0]}`"
            ) from None
        if shards.embedding is None:
            raise DataError(f"{shards.directory} holds images, not embeddings (its manifest.json has no 'embedding')")
        return shards

    def _sets(self) -> list[ShardSet]:
        return [s for s in (self.train_set, self.val_set, self.test_set) if s is not None]

    def check_model(self, model: nn.Module) -> None:
        """Refuse ``model`` when a configured embedding shard set was made by another backbone or preprocessing."""
        for shards in self._sets():
            if shards.embedding is not None:
                check_compatible(shards.manifest, model, shards.directory)

    def setup(self, stage: str) -> None:
        module = self.trainer.lightning_module if self.trainer is not None else None
        if module is not None and isinstance(getattr(module, "model", None), nn.Module):
            self.check_model(module.model)

    def _transform(self, shards: ShardSet, train: bool):
        if shards.embedding is not None:
            return None
        if self.image_config is None:
            raise DataError(f"{shards.directory} holds images but the model is head-only (it takes embeddings)")
        return create_transform(self.image_config, train=train)

    def _normalize_on_device(self) -> bool:
        """Whether images leave the workers as uint8 and are normalised after the transfer: on an accelerator only.

        On the CPU the workers normalise: the float batches would otherwise be allocated by the training process
        itself, where glibc serves such blocks from its heap after a few frees and resident memory creeps up.
        """
        trainer = self.trainer
        return trainer is not None and trainer.strategy.root_device.type != "cpu"

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        image = batch.get("image") if isinstance(batch, dict) else None
        if image is not None and image.dtype == torch.uint8 and self._normalize is not None:
            batch["image"] = self._normalize(image)
        return batch

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
            self._transform(shards, train=self.augment),
            self.batch_size,
            per_worker,
            self.targets,
            self.shuffle_buffer,
            self.seed,
            embeddings=shards.embedding is not None,
            normalize=not self._normalize_on_device(),
            start_epoch=self.trainer.current_epoch if self.trainer is not None else 0,  # resumed: go on from there
            cache=self._cache(shards),
        )
        # The length lets the progress bar and the LR schedule know the epoch size; every rank has the same.
        with warnings.catch_warnings():  # webdataset says __len__ does not cut the epoch: with_epoch already does
            warnings.filterwarnings("ignore", message=r"\.with_length\(\) only sets", category=UserWarning)
            pipe = pipe.with_length(per_worker * workers)
        return self._keep(make_loader(pipe, self.num_workers))

    def _cache(self, shards: ShardSet) -> SampleCache | None:
        """A decode cache for the training shards: images only, and only with a budget and per-shard counts."""
        counts = shards.counts
        if self.cache_mb <= 0 or shards.embedding is not None or self.image_config is None or not counts:
            return None
        return SampleCache(shards.urls, counts, self.image_config.input_size, self.cache_mb * 2**20)

    def _eval_loader(self, shards: ShardSet | None, with_raters: bool):
        if shards is None:
            return []
        index = {r: i for i, r in enumerate(shards.raters)} if with_raters else None
        pipe = eval_pipeline(
            shards.urls,
            self._transform(shards, train=False),
            self.eval_batch_size,
            rater_index=index,
            embeddings=shards.embedding is not None,
            normalize=not self._normalize_on_device(),
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
