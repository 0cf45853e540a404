"""``emozoo zoo export MODEL OUT --format onnx`` and the predict path running an ``OrtEmotionModel``."""

from __future__ import annotations

import json

import pytest
import torch

from emozoo.cli import main
from emozoo.deploy import load_onnx_model

from .conftest import assert_parity, face_images, tiny_model


@pytest.fixture
def model_dir(tmp_path):
    return tiny_model("cnn-tiny", "builtin").save_pretrained(tmp_path / "tiny")


def test_cli_export_and_predict_records_match_torch(model_dir, tmp_path, capsys):
    assert main(["zoo", "export", str(model_dir), str(tmp_path / "onnx"), "--format", "onnx"]) == 0
    path = tmp_path / "onnx" / "model.onnx"
    assert f"{path} (" in capsys.readouterr().out
    images = tmp_path / "faces"
    images.mkdir()
    for i, img in enumerate(face_images(5, size=72)):
        img.save(images / f"face{i}.jpg", quality=90)
    (images / "broken.jpg").write_bytes(b"not a jpeg")
    records = {}
    for name, model in [("torch", str(model_dir)), ("onnx", str(path))]:  # `emozoo predict --model model.onnx`
        out = tmp_path / f"{name}.jsonl"
        argv = ["predict", str(images), "--model", model, "--out", str(out), "--workers", "0", "--no-progress"]
        assert main([*argv, "--batch-size", "2", "--faces", "none"]) == 0
        err = capsys.readouterr().err
        assert "5 images (1 skipped)" in err and "broken.jpg" in err
        records[name] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["image"] for r in records["onnx"]] == [r["image"] for r in records["torch"]]
    for a, b in zip(records["onnx"], records["torch"]):
        assert [t["emotion"] for t in a["top_k"]] == [t["emotion"] for t in b["top_k"]]
        for field in ("intensity", "distribution"):
            assert max(abs(a[field][k] - b[field][k]) for k in b[field]) < 1e-4


def test_cli_quantized_export(model_dir, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["zoo", "export", str(model_dir), str(out), "--format", "onnx", "--quantize", "dynamic"]) == 0
    assert "int8 weights" in capsys.readouterr().out
    assert load_onnx_model(out).metadata.quantization == "dynamic-int8"


def test_cli_errors_are_one_line(model_dir, tmp_path, capsys):
    assert main(["zoo", "export", str(model_dir), str(tmp_path / "x"), "--quantize", "dynamic"]) == 2
    assert "--quantize, --encoder and --neutral-means go with --format onnx" in capsys.readouterr().err
    assert main(["zoo", "export", str(tmp_path / "nothing"), str(tmp_path / "x"), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("emozoo zoo: error: model directory not found")
    assert main(["zoo", "export", str(model_dir), str(tmp_path / "x"), "--format", "onnx", "--opset", "13"]) == 2
    assert "opset must be 17 or newer" in capsys.readouterr().err


def test_cli_export_from_a_training_checkpoint(tmp_path, capsys):
    """A ``.ckpt`` as ``emozoo train`` writes it (the EmotionModule holds the model as ``model``)."""
    from emozoo.zoo.format import model_record

    model = tiny_model("cnn-tiny", "builtin")
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "emozoo": model_record(model)}, tmp_path / "last.ckpt")
    assert main(["zoo", "export", str(tmp_path / "last.ckpt"), str(tmp_path / "out"), "--format", "onnx"]) == 0
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = model(x)
    assert_parity(want, load_onnx_model(tmp_path / "out" / "model.onnx")(x))


def test_cli_default_opset_is_the_library_default():
    from emozoo.commands.export_onnx import DEFAULT_OPSET as CLI_OPSET
    from emozoo.deploy.onnx_export import DEFAULT_OPSET

    assert CLI_OPSET == DEFAULT_OPSET
