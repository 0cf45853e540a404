"""``model.predict``: every input type gives the prediction of the model run by hand on a real photograph; its
records equal the ``emozoo predict`` JSONL on the same files; the crop stage is pluggable."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2 as T

import emozoo
from emozoo.cli import main
from emozoo.errors import ConfigError, DataError
from emozoo.inference import Crop, FacePrediction
from emozoo.taxonomy import NAMES


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return emozoo.create_model("cnn-tiny", "mlp", backbone_args={"widths": (8, 16), "img_size": 32}).eval()


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    skdata = pytest.importorskip("skimage.data")
    return Image.fromarray(skdata.astronaut()).resize((96, 80))  # a real photograph, small: the test stays fast


def _by_hand(model, img: Image.Image) -> torch.Tensor:
    """Intensities straight through torchvision's whole transform and the model, one image at a time."""
    cfg = model.data_config
    interp = cfg.interpolation.upper()
    tf = T.Compose(
        [
            T.PILToTensor(),
            T.Resize(int(cfg.input_size[1] / cfg.crop_pct), interpolation=getattr(T.InterpolationMode, interp)),
            T.CenterCrop(cfg.input_size[1:]),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(list(cfg.mean), list(cfg.std)),
        ]
    )
    with torch.no_grad():
        return model(tf(img.convert("RGB"))[None])["intensity"][0]


def test_every_input_type_gives_the_models_numbers(model, photo, tmp_path):
    path = tmp_path / "astronaut.png"
    photo.save(path)  # lossless: the file holds the photo's exact pixels
    array = np.array(photo)
    chw = torch.from_numpy(array).permute(2, 0, 1)
    inputs = {
        "path": str(path),
        "PIL": photo,
        "array": array,
        "uint8 tensor": chw,
        "float tensor": chw.float() / 255,
        "bytes": path.read_bytes(),
    }
    want = _by_hand(model, photo)
    for kind, x in inputs.items():
        [pred] = model.predict(x, top_k=3, faces="none")
        got = torch.tensor([pred.intensity[n] for n in NAMES])
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6, msg=kind)
        assert pred.face == 0 and pred.box == [0.0, 0.0, 96.0, 80.0], kind  # faces="none": the full frame
        assert pred.landmarks is None and pred.detector_score is None
    preds = model.predict(list(inputs.values()), top_k=3, faces="none")  # a list: one prediction per image, in order
    assert [p.image for p in preds] == [str(path), "input[1]", "input[2]", "input[3]", "input[4]", "input[5]"]
    assert len(model.predict(torch.stack([chw, chw]), faces="none")) == 2  # NCHW counts as a list


def test_prediction_fields_top_and_to_dict(model, photo):
    [pred] = model.predict(photo, top_k=4, faces="none")
    assert isinstance(pred, FacePrediction)
    assert list(pred.intensity) == list(NAMES) and abs(sum(pred.distribution.values()) - 1) < 1e-5
    ranked = sorted(NAMES, key=lambda n: -pred.intensity[n])
    assert [t["emotion"] for t in pred.top(4)] == ranked[:4] and pred.top(4) == pred.top_k
    assert [t["emotion"] for t in pred.top(10)] == ranked[:10]
    assert all(t["probability"] == pred.distribution[t["emotion"]] for t in pred.top(10))
    rec = pred.to_dict()
    assert list(rec)[:5] == ["image", "face", "box", "landmarks", "detector_score"]
    assert json.loads(json.dumps(rec)) == rec
    [by_dist] = model.predict(photo, top_k=4, rank_by="distribution", faces="none")
    assert [t["emotion"] for t in by_dist.top_k] == sorted(NAMES, key=lambda n: -pred.distribution[n])[:4]


def test_records_equal_the_cli_jsonl(model, photo, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, angle in enumerate((0, 90, 180)):
        photo.rotate(angle, expand=True).save(folder / f"p{i}.png")
    model_dir = model.save_pretrained(tmp_path / "model")
    out = tmp_path / "pred.jsonl"
    argv = ["predict", str(folder), "--model", str(model_dir), "--out", str(out), "--top-k", "3"]
    for faces in ("none", "all"):
        assert main([*argv, "--faces", faces, "--workers", "0", "--device", "cpu", "--no-progress"]) == 0
        cli = [json.loads(line) for line in out.read_text().splitlines()]
        loaded = emozoo.load_model(model_dir)
        api = [json.loads(json.dumps(p.to_dict())) for p in loaded.predict(str(folder), top_k=3, faces=faces)]
        assert len(cli) == 3 and api == cli
    # with faces: the upright astronaut has one face; MTCNN finds none upside down or sideways, and says so
    assert [r.get("faces", 1) for r in cli] == [1, 0, 0] and cli[0]["detector_score"] > 0.9


def test_unreadable_inputs_and_bad_arrays(model, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="cannot read .*bad.jpg"):
        model.predict(str(bad))
    ok = model.predict([str(bad), np.zeros((9, 9, 3), np.uint8)], skip_unreadable=True, faces="none")[0]
    assert ok.image == "input[1]"
    with pytest.raises(DataError, match="HW or HWC"):
        model.predict(np.zeros((9, 9, 3), np.float32))
    with pytest.raises(DataError, match="CHW"):
        model.predict(torch.zeros(9, 9))


def test_faces_modes_find_the_face_and_bad_modes_are_one_line(model):
    skdata = pytest.importorskip("skimage.data")
    big = Image.fromarray(skdata.astronaut())  # 512 px; her face spans about x 170-300, y 30-200 (hand-labelled)
    canvas = Image.new("RGB", (900, 600), (40, 40, 40))
    canvas.paste(big.resize((256, 256)), (40, 300))
    canvas.paste(big, (380, 40))
    both = model.predict(canvas, faces="all")
    [largest] = model.predict(canvas, faces="largest")
    assert len(both) == 2 and [p.face for p in both] == [0, 1]
    assert largest.box == both[0].box  # largest first
    x0, y0, x1, y1 = largest.box
    assert 380 + 150 < (x0 + x1) / 2 < 380 + 320 and 40 + 40 < (y0 + y1) / 2 < 40 + 230
    assert len(largest.landmarks) == 5 and largest.detector_score > 0.9
    with pytest.raises(ConfigError, match="unknown faces mode 'some'"):
        model.predict(canvas, faces="some")


def halves(image: Image.Image) -> list[Crop]:
    """A stand-in detector: the left and right halves as two faces (module level: workers pickle it)."""
    w, h = image.size
    return [Crop(image.crop((0, 0, w // 2, h)), (0, 0, w // 2, h), [(1.0, 2.0)], 0.9),
            Crop(image.crop((w // 2, 0, w, h)), (w // 2, 0, w, h), None, 0.5)]  # fmt: skip


def nothing(image: Image.Image) -> list[Crop]:
    return []


def test_the_crop_stage_is_pluggable(model, photo, monkeypatch, tmp_path):
    from emozoo.inference import predicting

    monkeypatch.setattr(predicting, "face_cropper", lambda mode: halves)
    left, right = model.predict(photo, workers=1)
    assert (left.face, left.box, left.landmarks, left.detector_score) == (0, [0.0, 0.0, 48.0, 80.0], [[1.0, 2.0]], 0.9)
    assert (right.face, right.box, right.detector_score) == (1, [48.0, 0.0, 96.0, 80.0], 0.5)
    want = _by_hand(model, photo.crop((48, 0, 96, 80)))
    torch.testing.assert_close(torch.tensor([right.intensity[n] for n in NAMES]), want, atol=1e-6, rtol=1e-6)
    monkeypatch.setattr(predicting, "face_cropper", lambda mode: nothing)
    [none] = model.predict(photo)
    assert none.face is None and none.to_dict() == {"image": "input[0]", "faces": 0} and none.top(3) == []


def test_predict_leaves_the_models_mode_and_device(model, photo):
    model.train()
    try:
        model.predict(photo)
        assert model.training
    finally:
        model.eval()
    model.predict(photo, device="cpu")
    assert next(model.parameters()).device.type == "cpu"


def test_csv_rows_carry_the_location_and_no_face_rows(model, photo, tmp_path):
    import csv

    from emozoo.inference_output import PredictionWriter

    [pred] = model.predict(photo, top_k=2, faces="none")
    with PredictionWriter(tmp_path / "p.csv", top_k=2) as writer:
        writer.write([pred.to_dict(), FacePrediction(image="empty.png", face=None).to_dict()])
    with (tmp_path / "p.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == ["input[0]", "empty.png"]
    box = [float(rows[0][f"box_{c}"]) for c in ("x0", "y0", "x1", "y1")]
    assert rows[0]["face"] == "0" and box == pred.box and rows[0]["detector_score"] == rows[0]["landmarks"] == ""
    assert [rows[0]["top1"], rows[0]["top2"]] == [t["emotion"] for t in pred.top_k]
    assert float(rows[0][f"intensity:{NAMES[7]}"]) == pred.intensity[NAMES[7]]
    assert rows[1]["face"] is None or rows[1]["face"] == ""  # no face: nothing but the image


def test_top_level_functions_and_cli_choices(model, photo, tmp_path):
    from emozoo import inference
    from emozoo.commands import _args, predict

    assert emozoo.predict is inference.predict and emozoo.evaluate is inference.evaluate
    model_dir = model.save_pretrained(tmp_path / "model")
    [by_name] = emozoo.predict(str(model_dir), photo, device="cpu", faces="none")
    [direct] = model.predict(photo, faces="none")
    assert by_name.to_dict() == direct.to_dict()
    assert _args.FACE_MODES == inference.FACE_MODES  # the CLI keeps copies so that `--help` imports no torch
    assert predict.RANK_BY == inference.records.RANK_BY


def test_the_docstring_example_of_model_predict_runs():
    import doctest

    import emozoo.model

    finder = doctest.DocTestFinder()
    [test] = [t for t in finder.find(emozoo.model) if t.name.endswith("EmotionModel.predict")]
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and test.examples
