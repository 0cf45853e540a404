"""Reused shared-memory batch buffers: a buffer comes back only after the consumer let go of its batch."""

from __future__ import annotations

import time
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


class _SlowAtFirst:
    """``transform``, slowed down for each loader worker's first ``n`` samples.

    It makes the race that once failed this file on a busy machine certain instead of rare: when the consumer stops
    a pass, the workers are still producing the batches they were asked to prefetch, so they take buffer slots
    for batches that the next pass will drop unseen. Each worker process has its own copy and so its own count.
    """

    def __init__(self, transform, n: int, seconds: float = 0.05) -> None:
        self.transform, self.n, self.seconds = transform, n, seconds

    def __call__(self, image):
        if self.n > 0:
            self.n -= 1
            time.sleep(self.seconds)
        return self.transform(image)


def _abandon(loader) -> list[dict]:
    """Stop a pass after two batches; returns them."""
    early = []
    for batch in loader:
        early.append(batch)
        if len(early) == 2:
            break  # the workers have prefetched more batches than this; the next pass drops them unseen
    return early


def _full_pass(loader) -> None:
    assert sum(len(b["key"]) for b in loader) == 96


def test_slots_of_an_abandoned_pass_come_back(tmp_path, slots_seen):
    make_shard_set(tmp_path, "test", 96, 12)
    urls = find_shards(tmp_path.parent, tmp_path.name, "test").urls
    # 5 batches of 4 per worker in the abandoned pass: the consumer takes one from each, the others are dropped.
    pipe = eval_pipeline(urls, _SlowAtFirst(create_transform(CFG), n=5 * 4), 4)
    loader = make_loader(pipe, num_workers=2)
    _abandon(loader)
    _full_pass(loader)
    # After a full pass every busy slot is one the main process received (and may still hold): none leaked.
    buffers = pipe.batch_buffers
    busy = {tuple(ij) for ij in buffers.busy.nonzero().tolist()}
    assert busy <= {(w, s) for _, w, s in buffers._held}
    assert all(buffers.busy[w, s] == BatchBuffers.HELD for w, s in busy)
    del slots_seen[:]
    _full_pass(loader)
    assert len(slots_seen) == 24 and slots_seen.count(None) == 0  # every batch of the next pass found a buffer


def test_batches_kept_from_an_abandoned_pass_survive_the_next_passes(tmp_path):
    make_shard_set(tmp_path, "test", 96, 12)
    urls = find_shards(tmp_path.parent, tmp_path.name, "test").urls
    transform = create_transform(CFG)
    loader = make_loader(eval_pipeline(urls, transform, 4), num_workers=2)
    early = _abandon(loader)
    _full_pass(loader)
    _full_pass(loader)
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
