"""The embedding cache: embed once, train the head on the cache, and get the full model's outputs back."""

from __future__ import annotations

import json

import pytest
import torch

import emozoo
from emozoo.backbones import create_backbone
from emozoo.cli import main
from emozoo.config import load_config
from emozoo.data import shardwriter
from emozoo.data.datamodule import EmotionDataModule
from emozoo.data.embeddings import embed_shards
from emozoo.data.pipeline import decode_image, eval_pipeline, make_loader
from emozoo.data.shardset import find_shards
from emozoo.errors import DataError
from emozoo.recipes import build_model, run_experiment
from tests.conftest import _png, tiny_run_overrides, write_tar

SUBSETS = {"big": ["train"], "binary": ["train"], "hq": ["val", "test"]}


def _cnn(seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    return create_backbone("cnn-tiny", **kwargs)


@pytest.fixture
def emb_root(tiny_data, tmp_path):
    root = tmp_path / "emb"
    backbone = _cnn()
    for subset, splits in SUBSETS.items():
        embed_shards(tiny_data / subset, backbone, root / subset, splits=splits, batch_size=16, progress=False)
    return root


def test_embedding_batches_carry_the_same_targets_as_image_batches(tiny_data, emb_root):
    images, cached = find_shards(tiny_data, "hq", "test"), find_shards(emb_root, "hq", "test")
    index = {r: i for i, r in enumerate(images.raters)}
    assert cached.raters == images.raters and cached.num_samples == images.num_samples == 24
    assert cached.embedding["dim"] == 192 and cached.embedding["dtype"] == "float16"
    a = next(iter(make_loader(eval_pipeline(images.urls, None, 24, rater_index=index, with_image=False), 0)))
    b = next(iter(make_loader(eval_pipeline(cached.urls, None, 24, rater_index=index, embeddings=True), 0)))
    assert b["embedding"].shape == (24, 192) and b["embedding"].dtype == torch.float32 and "image" not in b
    assert a["key"] == b["key"]
    for name in ("intensity", "intensity_mask", "binary_yes", "binary_n", "distribution"):
        torch.testing.assert_close(a[name], b[name])
    torch.testing.assert_close(a["ratings"], b["ratings"], equal_nan=True)


def test_head_trained_on_the_cache_gives_the_full_models_outputs(tiny_data, tmp_path):
    emb_root = tmp_path / "emb"
    # A root of embedding shard sets is recognised by their manifests.
    cfg = load_config("smoke", tiny_run_overrides(emb_root, tmp_path, precision="32-true"))
    torch.manual_seed(cfg.seed)  # as run_experiment seeds before it builds the model: the same random init
    backbone = build_model(cfg).backbone
    for subset, splits in SUBSETS.items():
        embed_shards(tiny_data / subset, backbone, emb_root / subset, splits=splits, batch_size=16, progress=False)
    summary = run_experiment(cfg)  # both stages and the test stage read embeddings, never an image
    assert isinstance(summary["mean_spearman"], float)
    model = emozoo.load_model(summary["model_dir"]).eval()
    shards = find_shards(tiny_data, "hq", "test")
    cached = find_shards(emb_root, "hq", "test")
    batch = next(iter(make_loader(eval_pipeline(cached.urls, None, 24, embeddings=True), 0)))
    transform = model.transform()
    images = {}
    for sample in make_loader(eval_pipeline(shards.urls, transform, 24), 0):
        images.update(zip(sample["key"], sample["image"]))
    with torch.no_grad():
        full = model(torch.stack([images[k] for k in batch["key"]]))
        fast = model.forward_embeddings(batch["embedding"])
    for name in full:
        torch.testing.assert_close(fast[name], full[name], atol=2e-3, rtol=1e-2)  # float16 cache


def test_a_backbone_that_did_not_make_the_cache_is_refused(tiny_data, emb_root):
    dm = EmotionDataModule(str(tiny_data), None, train=("big", "train"), embeddings=str(emb_root))
    dm.check_model(emozoo.create_model(None, "mlp", embed_dim=192))  # head-only: the width matches
    with pytest.raises(DataError, match="192-d embeddings but the model's head takes 64-d"):
        dm.check_model(emozoo.create_model(None, "mlp", embed_dim=64))
    model = emozoo.create_model("cnn-tiny", "mlp", backbone_args={"img_size": 32})
    with pytest.raises(DataError, match=r"preprocessing hash .*input_size.*emozoo embed --backbone cnn-tiny"):
        dm.check_model(model)
    torch.manual_seed(1)
    with pytest.raises(DataError, match="other weights than the one that made the embeddings"):
        dm.check_model(emozoo.create_model("cnn-tiny", "mlp"))
    torch.manual_seed(0)
    same = emozoo.create_model("cnn-tiny", "mlp")
    dm.check_model(same)  # same seed, same random init: accepted
    with torch.no_grad():
        for p in same.backbone.parameters():
            p.copy_(0.998 * p + 0.002 * p)  # what weight averaging does to a frozen encoder: rounding only
    dm.check_model(same)
    with pytest.raises(DataError, match="holds images, not embeddings"):
        EmotionDataModule(str(tiny_data), None, train=("big", "train"), embeddings=str(tiny_data))
    with pytest.raises(DataError, match="no embeddings of hq/test .*emozoo embed"):
        EmotionDataModule(str(tiny_data), None, test=("hq", "test"), embeddings=str(emb_root / "none"))


def test_embedding_skips_bad_samples_and_resumes(tiny_data, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for f in sorted((tiny_data / "big").glob("*.tar")):
        (src / f.name).write_bytes(f.read_bytes())
    good = json.dumps({"source": "synthface", "ratings": {}, "binary": {}, "weak": [1] * 40}).encode()
    import numpy as np

    png = _png(np.random.default_rng(0))
    write_tar(
        src / "train-000003.tar",
        [
            {"__key__": "bad-image", "png": b"\x89PNG nope", "json": good},
            {"__key__": "bad-json", "png": png, "json": b"{"},
            {"__key__": "ok", "png": png, "json": good},
        ],
    )
    manifest = json.loads((tiny_data / "big" / "manifest.json").read_text())
    manifest["shards"].append({"file": "train-000003.tar", "split": "train", "count": 3})
    (src / "manifest.json").write_text(json.dumps(manifest))
    backbone = _cnn()
    clean = embed_shards(src, backbone, tmp_path / "clean", progress=False)
    assert clean["skipped"]["count"] == 2 and clean["skipped"]["per_shard"] == {"train-000003.tar": 2}
    assert clean["splits"]["train"]["count"] == 48 + 1
    real_write, calls = shardwriter.ShardSetWriter.write, []

    def dying(self, spec, samples):
        if calls:
            raise KeyboardInterrupt
        calls.append(spec.file)
        return real_write(self, spec, samples)

    monkeypatch.setattr(shardwriter.ShardSetWriter, "write", dying)
    with pytest.raises(KeyboardInterrupt):
        embed_shards(src, backbone, tmp_path / "resumed", progress=False)
    monkeypatch.setattr(shardwriter.ShardSetWriter, "write", real_write)
    assert (
        main(
            ["embed", "--backbone", "cnn-tiny", "--data", str(src), "--out", str(tmp_path / "resumed"), "--no-progress"]
        )
        == 0
    )
    for f in sorted((tmp_path / "clean").iterdir()):
        assert f.read_bytes() == (tmp_path / "resumed" / f.name).read_bytes(), f.name
    with pytest.raises(DataError, match="already holds shards made differently"):
        embed_shards(src, _cnn(seed=3), tmp_path / "clean", progress=False)


def test_decode_image_is_the_pipelines_decoder(tiny_data):
    import tarfile

    with tarfile.open(sorted((tiny_data / "hq").glob("test-*.tar"))[0]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".png"))
        data = tar.extractfile(member).read()
    assert decode_image({"png": data}).size == (32, 32)
