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


def _abandon_then_run(urls, transform, keep: bool, passes: int = 2) -> list[dict]:
    """Stop a pass after two batches (keeping them or not), then run ``passes`` full passes; the early batches."""
    loader = make_loader(eval_pipeline(urls, transform, 4), num_workers=2)
    early = []
    for batch in loader:
        early.append(batch)
        if len(early) == 2:
            break  # the workers have prefetched more batches than this; the next pass drops them unseen
    if not keep:
        early.clear()
    for _ in range(passes):
        assert sum(len(b["key"]) for b in loader) == 96
    return early


def test_slots_of_an_abandoned_pass_come_back(tmp_path, slots_seen):
    make_shard_set(tmp_path, "test", 96, 12)
    urls = find_shards(tmp_path.parent, tmp_path.name, "test").urls
    _abandon_then_run(urls, create_transform(CFG), keep=False, passes=2)
    last_pass = slots_seen[-24:]  # 96 samples in batches of 4
    assert last_pass.count(None) == 0  # every batch of the last pass found a free buffer


def test_batches_kept_from_an_abandoned_pass_survive_the_next_passes(tmp_path):
    make_shard_set(tmp_path, "test", 96, 12)
    urls = find_shards(tmp_path.parent, tmp_path.name, "test").urls
    transform = create_transform(CFG)
    early = _abandon_then_run(urls, transform, keep=True)
    reference = _reference(urls, transform)
    for batch in early:
        for key, image in zip(batch["key"], batch["image"]):
            assert torch.equal(image, reference[key]), key


def test_one_pipeline_feeds_one_loader(tmp_path):
    make_shard_set(tmp_path, "test", 8, 4)
    pipe = eval_pipeline(find_shards(tmp_path.parent, tmp_path.name, "test").urls, create_transform(CFG), 4)
    make_loader(pipe, 0)
    with pytest.raises(ValueError, match="build a new pipeline"):
        make_loader(pipe, 0)
