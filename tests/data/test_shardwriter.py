"""The generic shard writer: atomic tars with fixed headers, sha256 records, resumable manifests."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from emozoo.data.shardwriter import (
    MANIFEST,
    PARTIAL_MANIFEST,
    ShardSetWriter,
    encode_sample,
    plan_shards,
    write_tar,
)
from emozoo.errors import DataError

GENERATOR = {"name": "test", "version": "1", "params": {"seed": 0}}


def _samples(n: int, offset: int = 0) -> list[dict]:
    return [
        {"__key__": f"img-{i:04d}", "png": bytes([i % 256]) * (10 + i), "json": {"i": i, "name": "ü"}}
        for i in range(offset, offset + n)
    ]


def test_write_tar_round_trip_and_fixed_headers(tmp_path):
    path = tmp_path / "train-000000.tar"
    info = write_tar(path, _samples(3))
    data = path.read_bytes()
    assert info == {"count": 3, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [f"img-{i:04d}.{ext}" for i in range(3) for ext in ("png", "json")]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(946684800, 0, 0, "", "")}
        assert tar.extractfile("img-0002.png").read() == bytes([2]) * 12
        assert json.loads(tar.extractfile("img-0001.json").read()) == {"i": 1, "name": "ü"}


def test_write_tar_is_byte_identical_across_runs(tmp_path):
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    write_tar(a, _samples(5))
    write_tar(b, _samples(5))
    assert a.read_bytes() == b.read_bytes()


def test_write_tar_is_atomic_on_failure(tmp_path):
    path = tmp_path / "train-000000.tar"
    write_tar(path, _samples(2))
    before = path.read_bytes()

    def broken():
        yield from _samples(2, offset=10)
        raise RuntimeError("generator crashed")

    with pytest.raises(RuntimeError):
        write_tar(path, broken())
    assert path.read_bytes() == before  # the old shard is untouched
    assert sorted(os.listdir(tmp_path)) == ["train-000000.tar"]  # and no temp file is left behind


def test_encode_sample_rejects_keys_webdataset_would_split():
    with pytest.raises(DataError, match="without '.'"):
        encode_sample({"__key__": "a.b", "json": {}})
    assert encode_sample({"__key__": "k", "txt": "hi", "cls": [1, 2]}) == [("k.txt", b"hi"), ("k.cls", b"[1,2]")]


def test_plan_shards():
    specs = plan_shards("val", 25, 10)
    assert [(s.file, s.start, s.stop, s.count) for s in specs] == [
        ("val-000000.tar", 0, 10, 10),
        ("val-000001.tar", 10, 20, 10),
        ("val-000002.tar", 20, 25, 5),
    ]
    assert plan_shards("val", 0, 10) == []
    with pytest.raises(DataError):
        plan_shards("val", 5, 0)


def test_shard_set_manifest_and_resume(tmp_path):
    specs = plan_shards("train", 7, 3) + plan_shards("test", 2, 3)
    writer = ShardSetWriter(tmp_path, GENERATOR)
    for spec in specs[:2]:
        writer.write(spec, _samples(spec.count, spec.start))
    partial = json.loads((tmp_path / PARTIAL_MANIFEST).read_text())
    assert [s["file"] for s in partial["shards"]] == ["train-000000.tar", "train-000001.tar"]

    # an interrupted run resumes: written shards are done, the rest are not
    resumed = ShardSetWriter(tmp_path, GENERATOR)
    assert [resumed.done(s) for s in specs] == [True, True, False, False]
    (tmp_path / "train-000001.tar").write_bytes(b"x" * 10240)  # corrupt: same name, wrong content
    assert not resumed.done(specs[1])
    for spec in specs[1:]:
        resumed.write(spec, _samples(spec.count, spec.start))
    manifest = resumed.finish(specs, raters=["r1"])
    assert not (tmp_path / PARTIAL_MANIFEST).exists()
    assert json.loads((tmp_path / MANIFEST).read_text()) == manifest
    assert manifest["splits"] == {"train": {"count": 7, "shards": 3}, "test": {"count": 2, "shards": 1}}
    assert manifest["count"] == 9 and manifest["raters"] == ["r1"]
    for shard in manifest["shards"]:
        data = (tmp_path / shard["file"]).read_bytes()
        assert shard["sha256"] == hashlib.sha256(data).hexdigest() and shard["bytes"] == len(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            assert len(tar.getnames()) == 2 * shard["count"]


def test_shard_set_refuses_other_generator(tmp_path):
    spec = plan_shards("train", 2, 2)[0]
    writer = ShardSetWriter(tmp_path, GENERATOR)
    writer.write(spec, _samples(2))
    writer.finish([spec])
    other = {**GENERATOR, "params": {"seed": 1}}
    with pytest.raises(DataError, match=r"params\.seed: 0 -> 1.*another --out"):
        ShardSetWriter(tmp_path, other)


def test_finish_refuses_missing_shards(tmp_path):
    with pytest.raises(DataError, match="never written"):
        ShardSetWriter(tmp_path, GENERATOR).finish(plan_shards("train", 2, 2))


def test_webdataset_reads_the_shards(tmp_path):
    wds = pytest.importorskip("webdataset")
    write_tar(tmp_path / "train-000000.tar", _samples(4))
    samples = list(wds.WebDataset(str(tmp_path / "train-000000.tar"), shardshuffle=False))
    assert [s["__key__"] for s in samples] == [f"img-{i:04d}" for i in range(4)]
    assert json.loads(samples[3]["json"]) == {"i": 3, "name": "ü"}
