"""Streaming exactness on many (simulated) ranks and workers, and bad-sample handling."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from emozoo.backbones import DataConfig, create_transform
from emozoo.data.pipeline import batches_per_worker, eval_pipeline, make_loader, train_pipeline
from emozoo.data.shardset import find_shards
from emozoo.errors import DataError
from tests.conftest import _png, fake_labels, make_shard_set, write_tar

TRANSFORM = create_transform(DataConfig(input_size=(3, 16, 16)))


def _keys(loader) -> list[str]:
    return [k for batch in loader if batch["num_samples"] for k in batch["key"]]


@pytest.mark.parametrize("num_shards", [1, 3, 4, 7])
def test_eval_sees_each_key_once_across_ranks_and_workers(tmp_path, monkeypatch, num_shards):
    keys = make_shard_set(tmp_path, "test", num_shards * 5 - 2, 5)  # uneven last shard
    shards = find_shards(tmp_path.parent, tmp_path.name, "test")
    seen: list[str] = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        loader = make_loader(eval_pipeline(shards.urls, TRANSFORM, 4), num_workers=2)
        seen += _keys(loader)
    assert Counter(seen) == Counter(keys)


@pytest.mark.parametrize("num_shards", [1, 3, 5])
def test_train_gives_every_rank_the_same_batch_count(tmp_path, monkeypatch, num_shards):
    make_shard_set(tmp_path, "train", num_shards * 6, 6, kind="weak")
    shards = find_shards(tmp_path.parent, tmp_path.name, "train")
    per_worker = batches_per_worker(shards.num_samples, 1.0, 4, world_size=2, num_workers=2)
    counts = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        pipe = train_pipeline(shards.urls, TRANSFORM, 4, per_worker, ["weak"], shuffle_buffer=8, seed=rank)
        counts.append(sum(1 for _ in make_loader(pipe, num_workers=2)))
    assert counts[0] == counts[1] == per_worker * 2
    assert per_worker * 2 * 2 * 4 >= shards.num_samples  # one epoch covers the split


def test_batches_carry_targets_and_images(tiny_data):
    shards = find_shards(tiny_data, "hq", "test")
    index = {r: i for i, r in enumerate(shards.raters)}
    batch = next(iter(make_loader(eval_pipeline(shards.urls, TRANSFORM, 8, rater_index=index), 0)))
    assert batch["image"].shape == (8, 3, 16, 16)
    assert batch["ratings"].shape == (8, len(shards.raters), 40)
    rated = ~torch.isnan(batch["ratings"][..., 0])
    assert (rated.sum(1) == 3).all()  # the fixture gives 3 raters per image
    mean = torch.nanmean(batch["ratings"], dim=1)
    torch.testing.assert_close(batch["intensity"], mean)


def _bad_samples() -> dict[str, dict]:
    import numpy as np

    rng = np.random.default_rng(0)
    good = fake_labels(rng, ["r1", "r2"], "ratings")
    nan = json.loads(json.dumps(good))
    nan["ratings"]["r1"][3] = float("nan")
    out_of_range = json.loads(json.dumps(good))
    out_of_range["ratings"]["r1"][0] = 9
    short = json.loads(json.dumps(good))
    short["ratings"]["r1"] = short["ratings"]["r1"][:39]
    inf = json.loads(json.dumps(good))
    inf["weak"] = [float("inf")] + [0] * 39
    bad_emotion = fake_labels(rng, ["r1"], "binary")
    bad_emotion["binary"] = {"Happiness": {"r1": True}}
    png = _png(rng)
    return {
        "nan": {"png": png, "json": json.dumps(nan).encode()},
        "range": {"png": png, "json": json.dumps(out_of_range).encode()},
        "short": {"png": png, "json": json.dumps(short).encode()},
        "inf": {"png": png, "json": json.dumps(inf).encode()},
        "emotion": {"png": png, "json": json.dumps(bad_emotion).encode()},
        "nojson": {"png": png},
        "badjson": {"png": png, "json": b"{not json"},
        "noimage": {"json": json.dumps(good).encode()},
        "badimage": {"png": b"\x89PNG garbage", "json": json.dumps(good).encode()},
    }


def test_fault_injection_skips_exactly_the_bad_samples(tmp_path):
    good = make_shard_set(tmp_path, "test", 12, 6)
    bad = _bad_samples()
    write_tar(tmp_path / "test-000002.tar", [{"__key__": f"bad-{k}", **v} for k, v in bad.items()])
    # A truncated shard: good samples, cut mid-file.
    make_shard_set(tmp_path / "t", "test", 6, 6, prefix="trunc")
    data = (tmp_path / "t" / "test-000000.tar").read_bytes()
    (tmp_path / "test-000003.tar").write_bytes(data[: len(data) // 2 + 100])
    shards = find_shards(tmp_path.parent, tmp_path.name, "test")
    batches = list(make_loader(eval_pipeline(shards.urls, TRANSFORM, 5), num_workers=2))
    seen = [k for b in batches if b["num_samples"] for k in b["key"]]
    assert set(good) <= set(seen)
    assert not any(k.startswith("bad-") for k in seen)
    messages = [m for b in batches for m in b["bad"]]
    sample_msgs = [m for m in messages if not m.startswith("shard ")]
    assert sum(b["num_bad"] for b in batches) == len(sample_msgs)
    assert sorted(m.split(":")[1] for m in sample_msgs if "test-000002.tar" in m) == sorted(f"bad-{k}" for k in bad)
    # The sample cut in half by the truncation is incomplete and counted; the ones before the cut are used.
    assert all(":trunc-" in m for m in sample_msgs if "test-000003.tar" in m)
    assert any(k.startswith("trunc-") for k in seen)
    assert any(m.startswith("shard ") and "test-000003.tar" in m for m in messages)
    reasons = " ".join(messages)
    for needle in (
        "not a finite number in [0.0, 7.0]",
        "expected a list of 40",
        "unknown emotion",
        "missing json",
        "not valid JSON",
        "no image",
        "undecodable image",
    ):
        assert needle in reasons


def test_missing_and_empty_shard_dirs_explain_what_to_do(tmp_path):
    with pytest.raises(DataError, match="emozoo shards synthface"):
        find_shards(tmp_path, "nope", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no 'train-\\*.tar' shards"):
        find_shards(tmp_path, "empty", "train")


def test_training_stream_is_a_function_of_the_seed(tmp_path):
    make_shard_set(tmp_path, "train", 60, 6, kind="weak")
    shards = find_shards(tmp_path.parent, tmp_path.name, "train")

    def keys(seed: int) -> list[str]:
        pipe = train_pipeline(shards.urls, TRANSFORM, 4, 6, ["weak"], shuffle_buffer=20, seed=seed)
        return _keys(make_loader(pipe, num_workers=2))

    first = keys(0)
    assert len(first) == 2 * 6 * 4
    assert keys(0) == first  # the same seed: the same samples in the same order
    assert keys(1) != first


def test_stream_seeds_never_repeat_across_ranks_workers_epochs(monkeypatch):
    import webdataset as wds

    from emozoo.data.pipeline import _stream_seed

    seeds = set()
    for rank in range(4):
        for worker in range(8):
            monkeypatch.setattr(wds.utils, "pytorch_worker_info", lambda r=rank, w=worker: (r, 4, w, 8))
            for purpose in (0, 1):
                seeds.update(_stream_seed(0, purpose, epoch) for epoch in range(64))
    assert len(seeds) == 4 * 8 * 2 * 64  # WebDataset's linear mix gave worker w at epoch e+31 worker w+1's seed


def test_a_resumed_run_continues_with_its_epochs_stream(tmp_path):
    make_shard_set(tmp_path, "train", 60, 6, kind="weak")
    shards = find_shards(tmp_path.parent, tmp_path.name, "train")

    def passes(start_epoch: int, n: int) -> list[list[str]]:
        pipe = train_pipeline(shards.urls, TRANSFORM, 4, 3, ["weak"], shuffle_buffer=20, start_epoch=start_epoch)
        loader = make_loader(pipe, num_workers=0)
        return [_keys(loader) for _ in range(n)]

    fresh = passes(0, 3)
    assert len({tuple(p) for p in fresh}) == 3  # each epoch draws its own stream
    assert passes(2, 1)[0] == fresh[2]
