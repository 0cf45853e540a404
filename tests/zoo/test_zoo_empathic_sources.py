"""Empathic-Insight from the HF cache (``hf-hub:laion/...``), with a SigLIP encoder in the transformers layout,
through the zoo name, and neutral means recovered from the real ``ferd.jsonl``."""

from __future__ import annotations

import json

import pytest
import torch

import emozoo
from emozoo.errors import WeightsError
from emozoo.taxonomy import EXTRA_HEAD_SLUGS, SLUGS
from emozoo.zoo.empathic import SIZES, load_empathic_insight
from emozoo.zoo.neutral import neutral_means_from_outputs, read_neutral_means, write_neutral_means
from tests.conftest import HF_TINY

from .conftest import release_files, write_release


def _raw(refs, x, slugs=SLUGS):
    with torch.no_grad():
        return torch.cat([refs[s](x) for s in slugs], dim=-1)


def test_large_release_from_the_hf_cache(tmp_path, hub_cache):
    # Large hidden sizes on an 8-d input: the real layout at a fraction of the bytes.
    refs = write_release(tmp_path / "rel", SIZES["large"], width=8)
    hub_cache("laion/Empathic-Insight-Face-Large", release_files(tmp_path / "rel"))
    model = load_empathic_insight("hf-hub:laion/Empathic-Insight-Face-Large", "large", embed_dim=8)
    assert model.backbone is None and model.head.hidden_dims == SIZES["large"]
    x = torch.randn(5, 8)
    out = model.forward_embeddings(x)
    raw = _raw(refs, x)
    torch.testing.assert_close(out["raw"], raw, rtol=1e-5, atol=1e-5)
    means = torch.tensor([0.05 * i for i in range(40)])
    torch.testing.assert_close(out["mean_subtracted"], raw - means, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["distribution"], torch.softmax(raw - means, -1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out["extra"], _raw(refs, x, EXTRA_HEAD_SLUGS.values()), rtol=1e-5, atol=1e-5)
    with pytest.raises(WeightsError, match="look like size='large'"):
        load_empathic_insight("hf-hub:laion/Empathic-Insight-Face-Large", "small", embed_dim=8)


def test_offline_miss_names_files_and_command(hub_cache):
    with pytest.raises(WeightsError, match=r"model_amusement_best\.safetensors.*and 36 more.*HF_HUB_OFFLINE.*"
                       r"hf download laion/Empathic-Insight-Face-Large"):  # fmt: skip
        load_empathic_insight("hf-hub:laion/Empathic-Insight-Face-Large", "large")


def test_with_a_transformers_siglip_encoder(tmp_path, tiny_siglip):
    """Images -> get_image_features of the saved SiglipModel -> the reference heads: the published pipeline."""
    folder, siglip = tiny_siglip
    refs = write_release(tmp_path / "rel", SIZES["small"], width=HF_TINY["hidden_size"], extras=False)
    model = load_empathic_insight(tmp_path / "rel", "small", backbone=f"local-dir:{folder}", backbone_args=HF_TINY)
    assert model.config["backbone"] == "siglip2-so400m-16-384" and model.config["impl"] == "hf"
    assert model.config["embed_dim"] == 64 and "extra" not in model(torch.zeros(1, 3, 32, 32))
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        emb = siglip.get_image_features(pixel_values=pixels)
        emb = getattr(emb, "pooler_output", emb)  # transformers 5 returns an output object
        out = model(pixels)
    torch.testing.assert_close(out["raw"], _raw(refs, emb), rtol=1e-5, atol=1e-5)
    # and the imported model round-trips through our own format, encoder and neutral means included
    emozoo.save_pretrained(model, tmp_path / "saved")
    again = emozoo.load_model(tmp_path / "saved")
    with torch.no_grad():
        assert torch.equal(again(pixels)["distribution"], out["distribution"])
    assert torch.equal(again.head.neutral_means, model.head.neutral_means)


def test_heads_wider_than_the_encoder_are_refused(tmp_path, tiny_siglip):
    folder, _ = tiny_siglip
    write_release(tmp_path / "rel", SIZES["small"], width=32, extras=False)
    with pytest.raises(WeightsError, match="heads take 32-d embeddings but the encoder gives 64-d"):
        load_empathic_insight(tmp_path / "rel", "small", backbone=f"local-dir:{folder}", backbone_args=HF_TINY)
    with pytest.raises(WeightsError, match="heads take 32-d embeddings but embed_dim is 1152-d"):
        load_empathic_insight(tmp_path / "rel", "small", embed_dim=1152)


def test_zoo_name_and_release_folder_load(tmp_path, hub_cache, tiny_siglip):
    folder, _ = tiny_siglip
    refs = write_release(tmp_path / "rel", SIZES["small"], width=64, means=False)
    hub_cache("laion/Empathic-Insight-Face-Small", release_files(tmp_path / "rel"))
    means = tmp_path / "means.json"
    write_neutral_means(torch.linspace(0, 1, 40, dtype=torch.float64), means)
    model = emozoo.load_model(
        "empathic-insight-face-small", encoder=f"local-dir:{folder}", encoder_args=HF_TINY, neutral_means=means
    )
    assert model.backbone is not None and model.head.extra_dims == ("arousal", "valence", "dominance", "vulnerability")
    torch.testing.assert_close(model.head.neutral_means, torch.linspace(0, 1, 40))
    # a plain release folder is recognised by its files; encoder=False gives the heads alone
    with pytest.warns(UserWarning, match="no neutral means"):
        heads = emozoo.load_model(tmp_path / "rel", encoder=False)
    x = torch.randn(3, 64)
    torch.testing.assert_close(heads.forward_embeddings(x)["raw"], _raw(refs, x), rtol=1e-5, atol=1e-5)
    assert heads.config["head_args"]["hidden_dims"] == list(SIZES["small"])


def test_neutral_means_from_published_outputs(emonet_dir, tmp_path):
    rows = [json.loads(line) for line in (emonet_dir / "ferd.jsonl").open()]
    want = torch.tensor(
        [rows[7]["results"][f"model_{s}_best"]["raw"] - rows[7]["results"][f"model_{s}_best"]["mean_subtracted"]
         for s in SLUGS], dtype=torch.float64,
    )  # fmt: skip
    got = read_neutral_means(emonet_dir / "ferd.jsonl")
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    assert torch.equal(read_neutral_means(write_neutral_means(got, tmp_path / "m.json")), got)
    bad = tmp_path / "bad.jsonl"
    rows[1]["results"]["model_anger_best"]["mean_subtracted"] += 0.5  # no longer one constant per head
    bad.write_text("\n".join(json.dumps(r) for r in rows[:3]))
    with pytest.raises(WeightsError, match="varies across lines"):
        neutral_means_from_outputs(bad)
    (tmp_path / "partial.json").write_text(json.dumps({"Anger": 0.1}))
    with pytest.raises(WeightsError, match=r"no neutral mean for \['Amusement'.*\(39 missing\)"):
        read_neutral_means(tmp_path / "partial.json")


def test_safetensors_heads_win_over_pickles(tmp_path, monkeypatch):
    """With both files present the .safetensors is read; the .pth (here a hostile pickle) is never opened."""
    import pickle

    from safetensors.torch import save_file

    monkeypatch.chdir(tmp_path)
    refs = write_release(tmp_path / "rel", SIZES["small"], width=8, extras=False)

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("touch PWNED",))

    for slug in SLUGS:
        save_file(refs[slug].state_dict(), str(tmp_path / "rel" / f"model_{slug}_best.safetensors"))
        (tmp_path / "rel" / f"model_{slug}_best.pth").write_bytes(pickle.dumps({"layers.0.weight": Evil()}))
    model = load_empathic_insight(tmp_path / "rel", "small")
    x = torch.randn(2, 8)
    torch.testing.assert_close(model.forward_embeddings(x)["raw"], _raw(refs, x), rtol=1e-5, atol=1e-5)
    (tmp_path / "rel" / f"model_{SLUGS[3]}_best.safetensors").unlink()
    with pytest.raises(WeightsError, match=rf"refused to load .*model_{SLUGS[3]}_best\.pth"):
        load_empathic_insight(tmp_path / "rel", "small")
    assert not (tmp_path / "PWNED").exists()
