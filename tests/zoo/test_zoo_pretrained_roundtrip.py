"""save_pretrained -> load_model restores every tensor bit for bit, for backbone/head combos from the registries;
``hf-hub:`` resolves from a cache the test builds (offline); errors name files, keys and the fetch command."""

from __future__ import annotations

import json

import pytest
import torch

import emozoo
from emozoo.errors import WeightsError
from emozoo.heads import HEADS
from emozoo.model import create_model

BACKBONES = {"cnn-tiny": {"widths": (8, 16), "img_size": 32}, "vit-tiny": {"img_size": 32, "depth": 2}}


def _scrambled(model):
    """Give every parameter and buffer non-default values, so a lost tensor cannot pass as a re-initialised one."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.is_floating_point():
                t.copy_(
                    torch.rand(t.shape, generator=g) * 0.2 + 0.9
                    if t.ndim == 1
                    else torch.randn(t.shape, generator=g) * 0.05
                )
            else:
                t.fill_(7)  # e.g. BatchNorm's num_batches_tracked
    return model.eval()


def _assert_identical(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k
    as_json = lambda c: json.loads(json.dumps(c))  # noqa: E731  (tuples come back as lists)
    assert as_json(a.config) == as_json(b.config) and a.data_config == b.data_config


def _combos():
    return [(bb, head) for bb in BACKBONES for head in HEADS.names()]


@pytest.mark.parametrize(("backbone", "head"), _combos(), ids=[f"{b}+{h}" for b, h in _combos()])
def test_round_trip_is_bitwise(tmp_path, backbone, head):
    model = _scrambled(create_model(backbone, head, backbone_args=BACKBONES[backbone]))
    emozoo.save_pretrained(model, tmp_path / "m")
    loaded = emozoo.load_model(tmp_path / "m")
    _assert_identical(model, loaded)
    x = torch.randn(3, *model.data_config.input_size)
    with torch.no_grad():
        out_a, out_b = model(x), loaded(x)
    assert out_a.keys() == out_b.keys()
    for k in out_a:
        assert torch.equal(out_a[k], out_b[k]), k
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["model"]["backbone"] == backbone and cfg["model"]["head"] == head
    assert cfg["taxonomy_version"] == "emonet-face-v1" and cfg["emozoo_version"] == emozoo.__version__
    assert cfg["preprocessing"]["input_size"] == [3, 32, 32]


def test_head_only_round_trip(tmp_path):
    model = _scrambled(create_model(None, "per-emotion", embed_dim=16, head_args={"extra_dims": ["valence"]}))
    emozoo.save_pretrained(model, tmp_path / "h")
    loaded = emozoo.load_model(str(tmp_path / "h"))
    _assert_identical(model, loaded)
    e = torch.randn(4, 16)
    assert torch.equal(model.forward_embeddings(e)["distribution"], loaded.forward_embeddings(e)["distribution"])


def test_saved_preprocessing_wins(tmp_path):
    from dataclasses import replace

    model = create_model("cnn-tiny", "mlp", backbone_args=BACKBONES["cnn-tiny"])
    model.backbone.data_config = replace(model.backbone.data_config, mean=(0.1, 0.2, 0.3), interpolation="bilinear")
    emozoo.save_pretrained(model, tmp_path / "m")
    assert emozoo.load_model(tmp_path / "m").data_config == model.data_config


def test_card_has_the_training_metrics(tmp_path):
    from emozoo.metrics import agreement_report

    torch.manual_seed(0)
    ratings = torch.rand(30, 3, 40) * 7
    report = agreement_report(ratings.mean(1) + torch.rand(30, 40), ratings, n_bootstrap=20)
    model = create_model("cnn-tiny", "linear", backbone_args=BACKBONES["cnn-tiny"])
    emozoo.save_pretrained(model, tmp_path / "m", report=report, experiment="demo")
    card = (tmp_path / "m" / "README.md").read_text()
    assert f"{report['model']['mean_spearman']:.4f}" in card and "weighted κ model–human" in card
    assert "experiment `demo`" in card and "emozoo predict" in card
    metrics = json.loads((tmp_path / "m" / "config.json").read_text())["metrics"]
    assert metrics["mean_spearman"] == report["model"]["mean_spearman"]
    assert metrics["kappa_model_human"] == report["kappa"]["model_human"]["mean"]


def test_hf_hub_from_a_test_built_cache(tmp_path, hub_cache):
    model = _scrambled(create_model("cnn-tiny", "per-emotion", backbone_args=BACKBONES["cnn-tiny"]))
    folder = emozoo.save_pretrained(model, tmp_path / "m")
    hub_cache("someorg/tiny-emotions", {n: folder / n for n in ("config.json", "model.safetensors", "README.md")})
    loaded = emozoo.load_model("hf-hub:someorg/tiny-emotions")
    _assert_identical(model, loaded)
    assert str(hub_cache.cache) in str(emozoo.zoo.format.resolve_model_dir("hf-hub:someorg/tiny-emotions"))


def test_hf_hub_offline_miss_says_how_to_fetch(hub_cache):
    with pytest.raises(WeightsError, match=r"config\.json, model\.safetensors not found in the Hugging Face cache.*"
                       r"HF_HUB_OFFLINE.*hf download someorg/absent"):  # fmt: skip
        emozoo.load_model("hf-hub:someorg/absent")


def test_mismatched_weights_name_the_keys(tmp_path):
    model = create_model("cnn-tiny", "mlp", backbone_args=BACKBONES["cnn-tiny"])
    emozoo.save_pretrained(model, tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["model"]["head"] = "linear"
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match=r"does not match cnn-tiny\+linear: missing \(\d+\): head\.norm"):
        emozoo.load_model(tmp_path / "m")
    with pytest.raises(WeightsError, match="model directory not found"):
        emozoo.load_model(tmp_path / "nowhere")


def test_hf_hub_downloads_what_is_missing_when_online(tmp_path, monkeypatch):
    """Downloads allowed: the missing files are fetched (by a fake ``hf_hub_download``) into the cache, once."""
    import shutil

    import huggingface_hub

    from emozoo.backbones.hub import hf_cache_dir

    rev = "fedcba9876543210fedcba9876543210fedcba98"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    model = create_model("cnn-tiny", "linear", backbone_args=BACKBONES["cnn-tiny"])
    folder = emozoo.save_pretrained(model, tmp_path / "m")
    calls = []

    def fake_download(repo, filename, revision=None, cache_dir=None, **kwargs):
        calls.append(filename)
        if not (folder / filename).is_file():
            raise huggingface_hub.errors.EntryNotFoundError(f"{repo} has no {filename}")
        root = hf_cache_dir() / ("models--" + repo.replace("/", "--"))
        (root / "snapshots" / rev).mkdir(parents=True, exist_ok=True)
        (root / "refs").mkdir(exist_ok=True)
        (root / "refs" / "main").write_text(rev)
        return shutil.copy(folder / filename, root / "snapshots" / rev / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    model = emozoo.load_model("hf-hub:someorg/online-model")
    assert sorted(calls) == ["README.md", "config.json", "model.safetensors"]
    assert model.config["head"] == "linear"
    emozoo.load_model("hf-hub:someorg/online-model")  # now cached: nothing fetched again
    assert len(calls) == 3
