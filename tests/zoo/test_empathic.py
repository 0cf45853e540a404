"""Empathic-Insight-Face import: golden post-processing on the real ferd.jsonl, equivalence, safe loading."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from torch import nn

from emozoo.backbones.readers import read_state_dict as load_state_dict
from emozoo.errors import WeightsError
from emozoo.heads import PerEmotionHead
from emozoo.taxonomy import EXTRA_HEAD_SLUGS, SLUGS
from emozoo.zoo.empathic import SIZES, load_empathic_insight, read_neutral_means


def _ferd(emonet_dir):
    return [json.loads(line) for line in (emonet_dir / "ferd.jsonl").open()]


def test_golden_postprocessing_reproduces_ferd(emonet_dir, tmp_path):
    rows = _ferd(emonet_dir)
    assert len(rows) == 152
    # The neutral mean of each head is raw - mean_subtracted; it must be one constant per head.
    diffs = torch.tensor(
        [
            [r["results"][f"model_{s}_best"]["raw"] - r["results"][f"model_{s}_best"]["mean_subtracted"] for s in SLUGS]
            for r in rows
        ],
        dtype=torch.float64,
    )
    assert (diffs.max(0).values - diffs.min(0).values).max() < 1e-6
    means_file = tmp_path / "neutral_means.json"
    means_file.write_text(json.dumps({f"model_{s}_best": float(m) for s, m in zip(SLUGS, diffs[0])}))
    head = PerEmotionHead(1152, 40).double()
    head.neutral_means = read_neutral_means(means_file)
    raw = torch.tensor([[r["results"][f"model_{s}_best"]["raw"] for s in SLUGS] for r in rows], dtype=torch.float64)
    out = head.postprocess(raw)
    want_ms = torch.tensor([[r["results"][f"model_{s}_best"]["mean_subtracted"] for s in SLUGS] for r in rows])
    want_sm = torch.tensor([[r["results"][f"model_{s}_best"]["softmax"] for s in SLUGS] for r in rows])
    torch.testing.assert_close(out["mean_subtracted"], want_ms.double(), atol=1e-6, rtol=0)
    torch.testing.assert_close(out["distribution"], want_sm.double(), atol=1e-6, rtol=0)
    for r in rows:  # the extra heads have no softmax
        for slug in EXTRA_HEAD_SLUGS.values():
            assert r["results"][f"model_{slug}_best"]["softmax"] is None


class _Reference(nn.Module):
    """A plain MLP as the published training code defines it (the state dict key layout we must read)."""

    def __init__(self, dims):
        super().__init__()
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                layers += [nn.ReLU(), nn.Dropout(0.2)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def _write_release(directory, size, extras=True, fmt=".pth"):
    torch.manual_seed(0)
    dims = (1152, *SIZES[size], 1)
    refs = {}
    slugs = list(SLUGS) + (list(EXTRA_HEAD_SLUGS.values()) if extras else [])
    for slug in slugs:
        ref = _Reference(dims).eval()
        refs[slug] = ref
        if fmt == ".pth":
            torch.save(ref.state_dict(), directory / f"model_{slug}_best.pth")
        else:
            from safetensors.torch import save_file

            save_file(ref.state_dict(), str(directory / f"model_{slug}_best.safetensors"))
    means = {f"model_{s}_best": 0.1 * i for i, s in enumerate(SLUGS)}
    (directory / "neutral_means.json").write_text(json.dumps(means))
    return refs


@pytest.mark.parametrize(("size", "fmt"), [("small", ".pth"), ("large", ".safetensors")])
def test_heads_match_reference_mlps(tmp_path, size, fmt):
    refs = _write_release(tmp_path, size, fmt=fmt)
    model = load_empathic_insight(tmp_path, size)
    assert model.backbone is None and model.head.hidden_dims == SIZES[size]
    x = torch.randn(6, 1152)
    out = model.forward_embeddings(x)
    want = torch.cat([refs[s](x) for s in SLUGS], dim=-1)
    torch.testing.assert_close(out["raw"], want, atol=1e-5, rtol=1e-5)
    means = torch.tensor([0.1 * i for i in range(40)])
    torch.testing.assert_close(out["distribution"], torch.softmax(want - means, -1), atol=1e-6, rtol=1e-5)
    extra = torch.cat([refs[s](x) for s in EXTRA_HEAD_SLUGS.values()], dim=-1)
    torch.testing.assert_close(out["extra"], extra, atol=1e-5, rtol=1e-5)


def test_wrong_size_and_bad_shapes_are_named(tmp_path):
    _write_release(tmp_path, "small", extras=False)
    with pytest.raises(WeightsError, match="look like size='small'"):
        load_empathic_insight(tmp_path, "large")
    state = torch.load(tmp_path / "model_anger_best.pth", weights_only=True)
    state["layers.3.weight"] = torch.zeros(32, 64)
    torch.save(state, tmp_path / "model_anger_best.pth")
    with pytest.raises(WeightsError, match=r"model_anger_best: key layers\.3\.weight"):
        load_empathic_insight(tmp_path, "small")
    (tmp_path / "model_anger_best.pth").unlink()
    with pytest.raises(WeightsError, match="model_anger_best.pth is missing"):
        load_empathic_insight(tmp_path, "small")


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_malicious_pickle_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model_anger_best.pth"
    with path.open("wb") as f:
        pickle.dump({"layers.0.weight": _Evil()}, f)
    with pytest.raises(WeightsError, match="refused to load"):
        load_state_dict(path)
    assert not (tmp_path / "PWNED").exists()
