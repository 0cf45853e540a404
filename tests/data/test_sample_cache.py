"""The decode cache: each training image decoded once per fit, the stream unchanged, the memory bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from emozoo.backbones import DataConfig, create_transform
from emozoo.config import ConfigError, load_config
from emozoo.data import pipeline
from emozoo.data.pipeline import make_loader, train_pipeline
from emozoo.data.sample_cache import SampleCache
from emozoo.data.shardset import find_shards
from tests.conftest import make_shard_set, write_tar

CFG = DataConfig(input_size=(3, 16, 16), mean=(0.5, 0.4, 0.3), std=(0.2, 0.3, 0.25), crop_pct=0.8)
SAMPLE_BYTES = 3 * 16 * 16


def _shards(tmp_path: Path, num: int = 48, per_shard: int = 12):
    make_shard_set(tmp_path / "big", "train", num, per_shard, "weak")
    return find_shards(tmp_path, "big", "train")


def _passes(shards, cache, workers: int, passes: int = 3, seed: int = 0, normalize: bool = True) -> list[dict]:
    """Every batch of ``passes`` epochs of the training stream, as (keys, images) per batch."""
    torch.manual_seed(seed)  # the loader seeds its workers' torch RNGs (the flips) from it
    pipe = train_pipeline(
        shards.urls, create_transform(CFG, train=True), 8, 3, ["weak"], 16, seed, normalize=normalize, cache=cache
    )
    loader = make_loader(pipe, workers)
    out = []
    for _ in range(passes):
        out += [(list(b["key"]), b["image"].clone()) for b in loader]
    del loader
    return out


def _same(a: list, b: list) -> None:
    assert len(a) == len(b) and len(a) > 0
    for (keys_a, img_a), (keys_b, img_b) in zip(a, b):
        assert keys_a == keys_b
        assert torch.equal(img_a, img_b)


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "2-workers"])
def test_cached_stream_equals_the_uncached_stream_batch_for_batch(tmp_path, workers):
    shards = _shards(tmp_path)
    cache = SampleCache(shards.urls, shards.counts, CFG.input_size, 2**30)
    plain = _passes(shards, None, workers)
    cached = _passes(shards, cache, workers)
    _same(plain, cached)  # same samples, same order, same flips, same pixels
    # The workers filled the main process's tensors: the memory is shared, not copied into each worker.
    assert 0 < int(cache.filled.sum()) <= shards.num_samples


def test_each_image_is_decoded_once_per_fit(tmp_path, monkeypatch):
    shards = _shards(tmp_path)
    decoded: list[str] = []
    original = pipeline.decode_image

    def counting(sample):
        decoded.append((sample["__url__"], sample["__key__"]))
        return original(sample)

    monkeypatch.setattr(pipeline, "decode_image", counting)
    seen = {key for keys, _ in _passes(shards, None, 0, passes=4) for key in keys}
    without = len(decoded)
    decoded.clear()
    cache = SampleCache(shards.urls, shards.counts, CFG.input_size, 2**30)
    seen_cached = {key for keys, _ in _passes(shards, cache, 0, passes=4) for key in keys}
    assert seen_cached == seen
    assert len(set(decoded)) == len(decoded), "an image was decoded twice"
    assert len(decoded) < without  # the resampled passes revisit images: those came from the cache
    assert int(cache.filled.sum()) == len(decoded)


def test_the_cache_never_outgrows_its_budget_or_half_the_shared_memory(tmp_path):
    shards = _shards(tmp_path)
    assert SampleCache(shards.urls, shards.counts, CFG.input_size, 10 * SAMPLE_BYTES).capacity == 10
    small_shm = SampleCache(shards.urls, shards.counts, CFG.input_size, 2**30, shm_bytes=20 * SAMPLE_BYTES)
    assert small_shm.capacity == 10 and small_shm.nbytes == 10 * SAMPLE_BYTES
    assert SampleCache(shards.urls, shards.counts, CFG.input_size, 2**30).capacity == shards.num_samples
    # Past its capacity the stream is still the uncached one: the rest is decoded every time.
    _same(_passes(shards, None, 0), _passes(shards, small_shm, 0))
    assert int(small_shm.filled.sum()) <= 10


def test_a_shard_holding_more_than_its_manifest_says_is_cached_only_as_far_as_counted(tmp_path):
    shards = _shards(tmp_path, num=24, per_shard=12)
    manifest = json.loads((shards.directory / "manifest.json").read_text())
    manifest["shards"][0]["count"] = 5  # the first shard really holds 12
    (shards.directory / "manifest.json").write_text(json.dumps(manifest))
    shards = find_shards(tmp_path, "big", "train")
    cache = SampleCache(shards.urls, shards.counts, CFG.input_size, 2**30)
    assert cache.capacity == 5 + 12
    first = shards.urls[0]
    assert cache.slot({"__url__": first, "__index__": 4}) == 4
    assert cache.slot({"__url__": first, "__index__": 5}) is None  # would be the second shard's first slot
    assert cache.slot({"__url__": shards.urls[1], "__index__": 0}) == 5
    assert cache.slot({"__url__": "elsewhere.tar", "__index__": 0}) is None
    _same(_passes(shards, None, 0), _passes(shards, cache, 0))


def test_an_undecodable_image_is_never_cached_and_is_reported_on_every_visit(tmp_path):
    shards = _shards(tmp_path, num=12, per_shard=12)
    meta = json.dumps({"source": "x", "ratings": {}, "binary": {}, "weak": [1] + [0] * 39, "extra": None}).encode()
    write_tar(shards.directory / "train-000001.tar", [{"__key__": "broken", "png": b"not a png", "json": meta}])
    manifest = json.loads((shards.directory / "manifest.json").read_text())
    manifest["shards"].append({"file": "train-000001.tar", "split": "train", "count": 1})
    (shards.directory / "manifest.json").write_text(json.dumps(manifest))
    shards = find_shards(tmp_path, "big", "train")
    cache = SampleCache(shards.urls, shards.counts, CFG.input_size, 2**30)
    torch.manual_seed(0)
    loader = make_loader(train_pipeline(shards.urls, create_transform(CFG), 4, 6, ["weak"], 4, cache=cache), 0)
    reports = [line for _ in range(3) for b in loader for line in b["bad"] if "broken" in line]
    assert len(reports) >= 2 and all("undecodable image" in line for line in reports)
    assert not cache.filled[cache.slot({"__url__": shards.urls[1], "__index__": 0})]


def test_a_wrong_shape_or_dtype_is_not_kept(tmp_path):
    shards = _shards(tmp_path, num=12, per_shard=12)
    cache = SampleCache(shards.urls, shards.counts, CFG.input_size, 2**30)
    cache.put(0, torch.zeros(3, 8, 8, dtype=torch.uint8))
    cache.put(1, torch.zeros(3, 16, 16))
    assert cache.get(0) is None and cache.get(1) is None
    image = torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8)
    cache.put(2, image)
    got = cache.get(2)
    assert torch.equal(got, image)
    got.zero_()  # a copy: writing into what get returned leaves the cache alone
    assert torch.equal(cache.get(2), image)


def test_the_uint8_stream_for_an_accelerator_is_cached_too(tmp_path):
    shards = _shards(tmp_path)
    cache = SampleCache(shards.urls, shards.counts, CFG.input_size, 2**30)
    plain, cached = _passes(shards, None, 0, normalize=False), _passes(shards, cache, 0, normalize=False)
    assert cached[0][1].dtype == torch.uint8
    _same(plain, cached)


def test_cache_mb_is_validated():
    assert load_config(overrides=["data.cache_mb=0"]).data.cache_mb == 0
    with pytest.raises(ConfigError, match="data.cache_mb must be >= 0"):
        load_config(overrides=["data.cache_mb=-1"])
