"""Reused shared-memory batch buffers: a buffer comes back only after the consumer let go of its batch."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import webdataset as wds

from emozoo.backbones import DataConfig, create_transform
from emozoo.data.batch_buffers import BatchBuffers
from emozoo.data.pipeline import decode_image, eval_pipeline, make_loader, split_transform
from emozoo.data.shardset import find_shards
from tests.conftest import make_shard_set

CFG = DataConfig(input_size=(3, 16, 16), mean=(0.5, 0.4, 0.3), std=(0.2, 0.3, 0.25))


@pytest.fixture
def slots_seen(monkeypatch):
    """Every (worker, slot) the main process is told about, in arrival order (None: a fresh segment)."""
    seen = []
    original = BatchBuffers.received

    def record(self, tensor, slot):
        seen.append(None if slot is None else tuple(slot))
        return original(self, tensor, slot)

    monkeypatch.setattr(BatchBuffers, "received", record)
    return seen


def _reference(urls, transform) -> dict[str, torch.Tensor]:
    samples = wds.DataPipeline(wds.SimpleShardList(urls), wds.tarfile_to_samples())
    return {s["__key__"]: transform(decode_image(s)) for s in samples}


@pytest.mark.parametrize("normalize", [True, False], ids=["float-batches", "uint8-batches"])
def test_batches_kept_by_the_consumer_are_never_overwritten(tmp_path, slots_seen, normalize):
    make_shard_set(tmp_path, "test", 96, 12)  # 8 shards, 2 workers: 12 batches of 4 per worker
    urls = find_shards(tmp_path.parent, tmp_path.name, "test").urls
    transform = create_transform(CFG) if normalize else split_transform(create_transform(CFG))[0]
    kept = list(make_loader(eval_pipeline(urls, transform, 4, normalize=normalize), num_workers=2))
    reference = _reference(urls, transform)
    for batch in kept:  # read only now: a reused buffer would hold a later batch's images
        for key, image in zip(batch["key"], batch["image"]):
            assert torch.equal(image, reference[key]), key
    used = [s for s in slots_seen if s is not None]
    # Every slot used once, then fresh segments: none was taken back while its batch was held.
    assert len(used) == 2 * BatchBuffers().slots
    assert max(Counter(used).values()) == 1


def test_buffers_are_reused_once_the_consumer_drops_its_batches(tmp_path, slots_seen):
    make_shard_set(tmp_path, "test", 96, 12)
    urls = find_shards(tmp_path.parent, tmp_path.name, "test").urls
    transform = create_transform(CFG)
    reference = _reference(urls, transform)
    n = 0
    for batch in make_loader(eval_pipeline(urls, transform, 4), num_workers=2):
        for key, image in zip(batch["key"], batch["image"]):
            assert torch.equal(image, reference[key]), key
        n += len(batch["key"])
    assert n == 96
    used = [s for s in slots_seen if s is not None]
    assert max(Counter(used).values()) > 1  # a slot came back
    assert len(set(used)) <= 2 * BatchBuffers().slots


def test_outside_a_worker_batches_are_ordinary_memory():
    buffers = BatchBuffers(slots=2)
    tensor, slot = buffers.empty((2, 3), torch.float32)
    assert slot is None and not tensor.is_shared()
