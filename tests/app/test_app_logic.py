"""The app's library without a browser: a request gives the numbers ``emozoo predict`` gives on the same file;
bad uploads become messages and the model cache survives them; faces are drawn where their boxes are; the charts
are sorted with the top-k highlighted; the command parses its address and never shares."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from PIL import Image

from emozoo.app import FACE_CHOICES, ModelCache, analyse, model_choices
from emozoo.app.render import REST_COLOUR, TOP_COLOUR, draw_faces, face_figure
from emozoo.cli import main as cli_main
from emozoo.errors import WeightsError
from emozoo.inference import FacePrediction
from emozoo.taxonomy import NAMES
from tests.app.conftest import faces_mode


def _predict_cli(model_dir: str, path: str, tmp_path, top_k: int = 5) -> list[dict]:
    """The records of ``emozoo predict`` on ``path``: the reference the page must agree with."""
    out = tmp_path / "ref.jsonl"
    args = ["predict", path, "--model", model_dir, "--out", str(out), "--faces", faces_mode()]
    assert cli_main([*args, "--top-k", str(top_k), "--workers", "0", "--no-progress", "--device", "cpu"]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_photo_gives_the_numbers_of_emozoo_predict(model_dir, photo_path, tmp_path):
    ref = [r for r in _predict_cli(model_dir, photo_path, tmp_path) if r.get("faces") != 0]
    result = analyse(ModelCache(device="cpu"), model_dir, [photo_path], faces=faces_mode(), top_k=5)
    assert not result.messages
    assert len(result.faces) == len(ref) >= 1
    for (label, pred), rec in zip(result.faces, ref):
        assert label == f"photo 1 · face {rec['face'] + 1}"
        assert [t["emotion"] for t in pred.top_k] == [t["emotion"] for t in rec["top_k"]]
        assert np.allclose([pred.intensity[n] for n in NAMES], [rec["intensity"][n] for n in NAMES], atol=1e-5)
        assert pred.box == pytest.approx(rec["box"])
    table = result.table_html()
    assert table.count('class="emozoo-face"') == len(ref)
    assert f'data-top="{ref[0]["top_k"][0]["emotion"].replace("&", "&amp;")}"' in table
    assert len(result.photos) == 1 and result.photos[0][0].size == Image.open(photo_path).size


def test_bad_uploads_are_messages_and_the_good_photo_is_still_scored(model_dir, photo_path, broken_path, tmp_path):
    cache = ModelCache(device="cpu")
    big = tmp_path / "big.png"
    Image.new("RGB", (1000, 600), "gray").save(big)  # the astronaut has 512x512: under the cap
    result = analyse(cache, model_dir, [broken_path, str(big), photo_path], faces=faces_mode(), max_pixels=300_000)
    assert len(result.faces) >= 1 and {p.image for _, p in result.faces} == {"astronaut.png"}
    text = result.message_html()
    assert "broken.jpg: not an image format PIL can read" in text
    assert "big.png: 1000x600 = 0.6 MP is over the 0.3 MP cap" in text
    assert "1 of 3 photos read" in result.summary
    assert model_dir in cache  # the model loaded for this request is kept for the next


def test_the_default_pixel_cap_refuses_a_huge_image(model_dir, huge_path):
    result = analyse(ModelCache(device="cpu"), model_dir, [huge_path], faces="none")
    assert result.faces == [] and len(result.messages) == 1
    assert result.messages[0].startswith("huge.png: 8000x6000 = 48.0 MP is over the 40.0 MP cap")


def test_a_photo_without_a_face_says_so(model_dir, photo_path, monkeypatch):
    app_analyse = sys.modules["emozoo.app.analyse"]
    import emozoo.inference.predicting as predicting

    monkeypatch.setattr(predicting, "face_cropper", lambda mode: lambda image: [])  # a detector that finds none
    monkeypatch.setattr(app_analyse, "face_cropper", lambda mode: None)
    result = analyse(ModelCache(device="cpu"), model_dir, [photo_path], faces="all")
    assert result.faces == []
    assert result.messages == ["astronaut.png: no face found; try 'whole image' to score the whole photo"]
    assert "No faces" in result.table_html()


def test_an_unavailable_faces_mode_or_model_is_one_message(model_dir, photo_path):
    cache = ModelCache(device="cpu")
    result = analyse(cache, "no-such-model", [photo_path, photo_path], faces="none")
    assert len(result.messages) == 1 and "no-such-model" in result.messages[0]
    result = analyse(cache, model_dir, [photo_path], faces="sideways")
    assert result.messages == ["unknown faces mode 'sideways'; use one of all, largest, none"]
    assert analyse(cache, model_dir, [], faces="none").messages == [
        "Upload one or more photos, or take a webcam snapshot."
    ]


def test_an_html_file_name_is_escaped(model_dir, photo_path, tmp_path):
    evil = tmp_path / "<img src=x onerror=alert(1)>.png"
    evil.write_bytes(Path(photo_path).read_bytes())
    result = analyse(ModelCache(device="cpu"), model_dir, [str(evil)], faces="none")
    assert "<img src=x" not in result.table_html() + result.message_html()
    assert "&lt;img src=x" in result.table_html()


def test_the_cache_keeps_the_most_recently_used_and_survives_a_failed_load():
    loads = []

    def loader(name, device):
        if name == "bad":
            raise WeightsError("bad: no weights")
        loads.append(name)
        return object()

    cache = ModelCache(2, "cpu", loader)
    a = cache.get("a")
    cache.get("b")
    assert cache.get("a") is a  # cached: not loaded again
    cache.get("c")  # drops b, the least recently used
    assert cache.names() == ["a", "c"] and loads == ["a", "b", "c"]
    with pytest.raises(WeightsError):
        cache.get("bad")
    assert cache.names() == ["a", "c"]
    with pytest.raises(ValueError):
        ModelCache(0)


def test_model_choices_are_the_given_model_then_the_zoo_models_present(model_dir):
    from emozoo.zoo import list_checkpoints

    present = [r["name"] for r in list_checkpoints() if r["present"] and r["encoder_present"] is not False]
    assert model_choices(model_dir) == [model_dir, *present]
    absent = [r["name"] for r in list_checkpoints() if not r["present"]]
    assert not set(absent) & set(model_choices(model_dir))


def _pred(box, intensity) -> FacePrediction:
    inten = dict(zip(NAMES, intensity))
    dist = dict(zip(NAMES, np.exp(intensity) / np.exp(intensity).sum()))
    p = FacePrediction(image="x", face=0, box=box, intensity=inten, distribution=dist)
    p.top_k = p.top(5)
    return p


def test_faces_are_boxed_where_their_boxes_are():
    image = Image.new("RGB", (400, 300), "white")
    out = draw_faces(image, [_pred([50, 40, 150, 200], np.linspace(0, 7, 40))])
    px = np.asarray(out)
    top = to_rgba(TOP_COLOUR)[:3]
    colour = np.round(np.array(top) * 255)
    assert np.abs(px[120, 50] - colour).max() <= 1  # the left edge of the box
    assert np.abs(px[250, 300] - 255).max() == 0  # outside: untouched
    assert np.asarray(image).min() == 255  # the caller's image is not drawn on


def test_the_chart_is_sorted_with_the_top_k_highlighted():
    rng = np.random.default_rng(0)
    intensity = rng.uniform(0, 7, 40)
    fig = face_figure([("photo 1 · face 1", _pred([0, 0, 1, 1], intensity))], top_k=3)
    ax_i, ax_d = fig.axes
    widths = [b.get_width() for b in ax_i.patches]
    assert widths == sorted(intensity, reverse=True)
    labels = [t.get_text() for t in ax_i.get_yticklabels()]
    assert labels == [NAMES[i] for i in np.argsort(-intensity)]
    colours = [b.get_facecolor()[:3] for b in ax_i.patches]
    assert colours[:3] == [to_rgba(TOP_COLOUR)[:3]] * 3 and set(colours[3:]) == {to_rgba(REST_COLOUR)[:3]}
    assert len(ax_d.patches) == 40


def test_the_command_listens_on_localhost_by_default(monkeypatch):
    import emozoo.app.ui as ui
    from emozoo.commands import app as command

    calls = []
    monkeypatch.setattr(ui, "launch", lambda *a, **k: calls.append((a, k)))
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    args = parser.parse_args(["app", "--model", "cnn-x"])
    assert command.run(args) == 0
    assert calls == [(("cnn-x", "127.0.0.1", None), {"device": "auto", "cache_size": 2})]
    assert command.main(["--model", "m", "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert calls[-1][0] == ("m", "0.0.0.0", 8123)
    assert command.main(["--model", "m", "--port", "70000"]) == 2


def test_faces_control_maps_to_the_predict_modes():
    from emozoo.inference import FACE_MODES

    assert sorted(FACE_CHOICES.values()) == sorted(FACE_MODES)


def test_launch_listens_on_localhost_and_never_shares(model_dir, monkeypatch):
    gr = pytest.importorskip("gradio")
    from emozoo.app import launch

    seen = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: seen.update(kw))
    app = launch(model_dir, device="cpu", block=False)
    assert isinstance(app, gr.Blocks)
    assert seen["server_name"] == "127.0.0.1" and seen["server_port"] is None
    assert seen["share"] is False and seen["inbrowser"] is False
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False" and app.analytics_enabled is False
    launch(model_dir, "0.0.0.0", 8123, device="cpu", block=False)
    assert (seen["server_name"], seen["server_port"], seen["share"]) == ("0.0.0.0", 8123, False)


def test_launch_fails_in_one_line_on_a_wrong_model():
    pytest.importorskip("gradio")
    from emozoo.app import launch

    with pytest.raises(WeightsError, match="no-such-model"):
        launch("no-such-model", block=False)


def test_a_webcam_snapshot_is_scored_like_the_same_image(model_dir, photo_path):
    from emozoo.inference import predict

    snapshot = Image.open(photo_path).convert("RGB")
    result = analyse(ModelCache(device="cpu"), model_dir, None, snapshot, faces="none")
    ref = predict(model_dir, snapshot, faces="none", device="cpu")
    assert [label for label, _ in result.faces] == ["photo 1 · face 1"]
    assert result.faces[0][1].image == "webcam snapshot"
    assert result.faces[0][1].intensity == pytest.approx(ref[0].intensity, abs=1e-6)
