"""The file alone is enough: metadata round trip, opset and checker, int8 variant; untrusted files fail in one line."""

from __future__ import annotations

import json

import onnx
import pytest
import torch

import emozoo
from emozoo.deploy import export_onnx, load_onnx_model
from emozoo.deploy.metadata import PREFIX, read_metadata
from emozoo.errors import WeightsError
from emozoo.taxonomy import NAMES, TAXONOMY_VERSION

from .conftest import face_images, tiny_model


def _props(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_metadata_round_trip(tiny_cnn):
    model, path = tiny_cnn
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    props = _props(path)
    assert json.loads(props["emozoo.version"]) == emozoo.__version__
    assert json.loads(props["emozoo.taxonomy"]) == {"version": TAXONOMY_VERSION, "emotions": list(NAMES)}
    assert json.loads(props["emozoo.preprocessing"]) == json.loads(json.dumps(model.data_config.to_dict()))
    assert [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == ["batch", 3, 32, 32]
    with torch.no_grad():
        names = list(model(torch.zeros(2, 3, 32, 32)))
    assert [o.name for o in proto.graph.output] == names  # the forward dict's keys, in its order
    ort_model = load_onnx_model(path)
    meta = ort_model.metadata
    assert (meta.version, meta.emotions, meta.data_config) == (emozoo.__version__, NAMES, model.data_config)
    assert meta.model_config == json.loads(json.dumps(model.config)) and meta.quantization is None
    assert ort_model.head.num_emotions == 40 and ort_model.head.extra_dims == ()
    # the transform rebuilt from the file preprocesses a face exactly as the torch model's own
    face = face_images(1, size=50)[0]
    assert torch.equal(ort_model.transform()(face), model.transform()(face))
    assert next(ort_model.parameters()).device == torch.device("cpu") and ort_model.eval() is ort_model
    assert ort_model.to("cuda") is ort_model and list(ort_model.buffers()) == []


def test_int8_variant(tiny_cnn, tmp_path):
    model, fp32 = tiny_cnn
    path = export_onnx(model, tmp_path, quantize="dynamic")
    assert path.name == "model.int8.onnx"
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= {n.op_type for n in proto.graph.node}
    assert "ConvInteger" not in {n.op_type for n in proto.graph.node}
    assert path.stat().st_size < fp32.stat().st_size
    q, f = load_onnx_model(path), load_onnx_model(fp32)
    assert q.metadata.quantization == "dynamic-int8" and q.metadata.data_config == f.metadata.data_config
    x = torch.stack([model.transform()(img) for img in face_images(4)])
    dq, df = q(x)["intensity"], f(x)["intensity"]
    assert 0 < (dq - df).abs().mean() < 0.1  # quantized, and still close on the 0-7 scale
    torch.testing.assert_close(q(x)["distribution"].sum(-1), torch.ones(4))


def test_bad_arguments(tiny_cnn, tmp_path):
    model, path = tiny_cnn
    with pytest.raises(ValueError, match="opset must be 17 or newer"):
        export_onnx(model, tmp_path, opset=16)
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_onnx(model, tmp_path, quantize="static")
    with pytest.raises(ValueError, match=r"takes images of shape \('batch', 3, 32, 32\), got \(2, 3, 64, 64\)"):
        load_onnx_model(path)(torch.zeros(2, 3, 64, 64))


def _one_line_error(path, match: str) -> None:
    with pytest.raises(WeightsError, match=match) as info:
        load_onnx_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_unreadable_files_fail_in_one_line(tmp_path):
    _one_line_error(tmp_path / "missing.onnx", "ONNX model not found")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07not a protobuf at all" * 50)
    _one_line_error(tmp_path / "junk.onnx", "onnxruntime cannot load it .* re-export it with `emozoo zoo export")


def test_onnx_without_emozoo_metadata_fails_in_one_line(tmp_path):
    """A valid ONNX model that emozoo did not write (torch's own export, no metadata)."""
    model = tiny_model("cnn-tiny", "builtin")
    path = tmp_path / "plain.onnx"
    torch.onnx.export(model.head.intensity, (torch.zeros(2, 256),), str(path), dynamo=True)
    _one_line_error(path, r"no emozoo metadata \(emozoo.format\); it was not written by emozoo")


def _rewrite(src, dst, **changes) -> None:
    proto = onnx.load(str(src))
    props = {p.key: p.value for p in proto.metadata_props}
    for key, value in changes.items():
        if value is None:
            props.pop(PREFIX + key, None)
        else:
            props[PREFIX + key] = value if isinstance(value, str) else json.dumps(value)
    del proto.metadata_props[:]
    for k, v in props.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(dst))


def test_tampered_metadata_fails_in_one_line(tiny_cnn, tmp_path):
    _, path = tiny_cnn
    bad = tmp_path / "bad.onnx"
    emotions = list(NAMES)
    emotions[3] = "Schadenfreude"
    pp = json.loads(_props(path)["emozoo.preprocessing"])
    cases = {
        "taxonomy": ({"taxonomy": {"version": TAXONOMY_VERSION, "emotions": emotions}}, "taxonomy is not this"),
        "missing": ({"outputs": None}, "emozoo.outputs is missing"),
        "huge": ({"model": "[" + "0," * 40000 + "0]"}, r"emozoo.model is 80003 characters long \(at most 65536\)"),
        "deep": ({"model": "[" * 5000 + "]" * 5000}, "emozoo.model is not JSON"),
        "unknown key": ({"evil": 1}, "unknown metadata key 'emozoo.evil'"),
        "format": ({"format": 2}, "emozoo.format is 2, this emozoo reads 1"),
        "output name": ({"outputs": ["intensity", "distribution", "logitz"]}, "unknown name 'logitz'"),
        "graph outputs": ({"outputs": ["intensity", "distribution"]}, "graph outputs .* differ from its metadata"),
        "std": ({"preprocessing": {**pp, "std": [0.5, 0, 0.5]}}, "std > 0"),
        "size": ({"preprocessing": {**pp, "input_size": [3, 64, 64]}}, "does not match the preprocessing"),
        "interp": ({"preprocessing": {**pp, "interpolation": "lanczos9"}}, "interpolation/crop_mode must be"),
        "keys": ({"preprocessing": {**pp, "exec": "rm -rf"}}, "preprocessing must have exactly the keys"),
        "extra": ({"extra_dims": ["valence"]}, "must name the columns of the extra output"),
    }
    for what, (change, match) in cases.items():
        _rewrite(path, bad, **change)
        try:
            _one_line_error(bad, match)
        except AssertionError as err:
            raise AssertionError(f"case {what!r}: {err}") from None


def test_read_metadata_bounds_the_number_of_entries(tiny_cnn):
    props = {**_props(tiny_cnn[1]), **{f"other.{i}": "x" for i in range(100)}}
    with pytest.raises(WeightsError, match=f"{len(props)} metadata entries .at most 64."):
        read_metadata("m.onnx", props)
    props = {**_props(tiny_cnn[1]), "other.tool": "its own value"}  # another tool's key is left alone
    assert read_metadata("m.onnx", props).emotions == NAMES


def test_gpu_providers_first_and_cpu_fallback(tiny_cnn, monkeypatch):
    """With onnxruntime-gpu, TensorRT and CUDA come first; one that fails to start (libraries missing) falls back."""
    import onnxruntime as ort

    from emozoo.deploy.ort_model import default_providers

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider", "CUDAExecutionProvider"])
    assert default_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    real, asked = ort.InferenceSession, []

    def session(path, options, providers):
        asked.append(list(providers))
        if "CUDAExecutionProvider" in providers:
            raise RuntimeError("libcudart.so.12: cannot open shared object file\nsecond line")
        return real(path, options, providers=providers)

    monkeypatch.setattr(ort, "InferenceSession", session)
    with pytest.warns(UserWarning, match="CUDAExecutionProvider failed .libcudart.so.12: cannot open.*; using the CPU"):
        model = load_onnx_model(tiny_cnn[1])
    assert asked == [["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]]
    assert model.providers == ["CPUExecutionProvider"]
