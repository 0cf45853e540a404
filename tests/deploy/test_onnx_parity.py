"""ONNX outputs equal torch outputs in fp32 to 1e-4, for every backbone family and the Empathic-Insight heads,
at batch 1 and 3 (the batch axis is dynamic) on random and face images."""

from __future__ import annotations

import pytest
import torch

import emozoo
from emozoo.deploy import export_onnx, load_onnx_model
from emozoo.deploy.onnx_export import export_model_onnx
from emozoo.errors import WeightsError
from emozoo.zoo.empathic import SIZES
from tests.conftest import HF_TINY
from tests.zoo.conftest import write_release

from .conftest import assert_parity, face_images, families, tiny_model


def _check(model, ort_model, embeddings: bool = False) -> None:
    run = (lambda m, x: m.forward_embeddings(x)) if embeddings else (lambda m, x: m(x))
    torch.manual_seed(1)
    if embeddings:
        inputs = [torch.randn(1, model.head.in_features), 3 * torch.randn(3, model.head.in_features)]
    else:
        transform = model.transform()
        faces = torch.stack([transform(img) for img in face_images(3)])
        inputs = [torch.randn(1, *model.data_config.input_size), torch.randn(3, *model.data_config.input_size)]
        inputs += [faces[:1], faces]
    for x in inputs:
        with torch.no_grad():
            want = run(model, x)
        assert_parity(want, run(ort_model, x))


@pytest.mark.parametrize(("name", "impl"), families())
def test_every_family_matches_torch(name, impl, tmp_path):
    model = tiny_model(name, impl)
    ort_model = load_onnx_model(export_onnx(model, tmp_path), providers=["CPUExecutionProvider"])
    _check(model, ort_model)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "impl"), [("cnn-tiny", "builtin"), ("clip-vit-b16", "open_clip")])
def test_torchscript_exporter_matches_torch(name, impl, tmp_path):
    """The exporter that is not the default still works, open_clip's nn.MultiheadAttention included."""
    model = tiny_model(name, impl)
    with torch.no_grad():  # the fused attention fast path must not leak into the trace
        path = export_onnx(model, tmp_path / "m.onnx", dynamo=False)
    _check(model, load_onnx_model(path))


def test_dynamo_failure_falls_back_to_torchscript(tmp_path, monkeypatch):
    real = torch.onnx.export

    def dynamo_broken(*args, dynamo=True, **kwargs):
        if dynamo:
            raise RuntimeError("an unsupported op\nmore lines")
        return real(*args, dynamo=False, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", dynamo_broken)
    model = tiny_model("cnn-tiny", "builtin")
    with pytest.warns(UserWarning, match="dynamo ONNX exporter failed .RuntimeError: an unsupported op.; using"):
        path = export_onnx(model, tmp_path)
    _check(model, load_onnx_model(path))
    with pytest.raises(RuntimeError, match="unsupported op"):  # an exporter asked for by name does not fall back
        export_onnx(model, tmp_path, dynamo=True)


@pytest.mark.slow
def test_empathic_insight_with_encoder_matches_torch(tmp_path, tiny_siglip):
    """A release folder + a SigLIP encoder through load_model: the extra dimensions become the ``extra`` output."""
    folder, _ = tiny_siglip
    write_release(tmp_path / "rel", SIZES["small"], width=HF_TINY["hidden_size"])
    kw = {"encoder": f"local-dir:{folder}"}
    model = emozoo.load_model(tmp_path / "rel", encoder_args=HF_TINY, **kw)
    path = export_onnx(model, tmp_path / "out")
    ort_model = load_onnx_model(path)
    assert ort_model.head.extra_dims == model.head.extra_dims == ("arousal", "valence", "dominance", "vulnerability")
    assert {"raw", "mean_subtracted", "extra"} <= set(ort_model.metadata.outputs)
    _check(model, ort_model)


def test_empathic_insight_heads_alone_take_embeddings(tmp_path):
    """Heads without an encoder export with an ``embeddings`` input, through the CLI's loader."""
    write_release(tmp_path / "rel", SIZES["large"], width=16)
    path = export_model_onnx(tmp_path / "rel", tmp_path / "heads.onnx", encoder="false")
    model = emozoo.load_model(tmp_path / "rel", encoder=False)
    ort_model = load_onnx_model(path)
    assert ort_model.metadata.input_name == "embeddings" and ort_model.data_config is None
    assert ort_model.head.in_features == 16
    _check(model, ort_model, embeddings=True)
    with pytest.raises(ValueError, match="takes embeddings, not images"):
        ort_model(torch.zeros(1, 3, 32, 32))
    with pytest.raises(WeightsError, match="head without an image encoder.*--encoder"):
        load_onnx_model(path, images=True)


@pytest.mark.parametrize("opset", [17, 18])
def test_older_opsets_match_torch(opset, tmp_path):
    """Without opset 23's Attention op (attention as MatMul/Softmax), for runtimes that cannot read 23."""
    import onnx

    model = tiny_model("vit-tiny", "timm")
    path = export_onnx(model, tmp_path, opset=opset)
    assert {o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx")} == {opset}
    _check(model, load_onnx_model(path))
