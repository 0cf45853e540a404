"""``emozoo predict`` on videos and with ``--annotate``: records per frame and track, partial videos, pictures.

Videos are built with PyAV from a real photograph (skimage's astronaut) pasted at known places, so the checks
(track per pasted face, box overlap, frame times) come from the scene, not from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from emozoo.cli import main
from emozoo.model import create_model
from tests.faces.scenes import astronaut, box_iou, scene, write_video

pytest.importorskip("av")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = create_model("cnn-tiny", "mlp", backbone_args={"widths": (8, 16), "img_size": 32})
    return model.eval().save_pretrained(tmp_path_factory.mktemp("m") / "model")


def _two_faces(n: int):
    """n frames at 4 fps: one face moving right along the top, another moving left along the bottom (they cross)."""
    astro, frames, truth = astronaut(), [], []
    for t in range(n):
        image, placed = scene([(astro, 100, 0, (100 + 22 * t, 110)), (astro, 100, 0, (460 - 22 * t, 300))], (560, 400))
        frames.append(image)
        truth.append(placed)
    return frames, truth


@pytest.mark.slow
def test_video_records_carry_time_frame_and_stable_tracks(tmp_path, model_dir):
    frames, truth = _two_faces(12)
    clip = tmp_path / "two.mp4"
    write_video(clip, frames, fps=4)
    out, plots = tmp_path / "p.jsonl", tmp_path / "plots"
    argv = ["predict", str(clip), "--model", str(model_dir), "--out", str(out), "--fps", "2", "--plot", str(plots)]
    assert main([*argv, "--workers", "1", "--no-progress"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2 * 6  # 3 s sampled at 2 fps, two faces each
    assert sorted({r["frame"] for r in records}) == [0, 2, 4, 6, 8, 10]
    assert all(r["time"] == pytest.approx(r["frame"] / 4) and r["image"] == str(clip) for r in records)
    who = set()
    for r in records:
        placed = truth[r["frame"]]
        k = max(range(2), key=lambda i: box_iou(r["box"], placed[i].box))
        assert box_iou(r["box"], placed[k].box) > 0.5
        who.add((k, r["track"]))
    assert who in ({(0, 0), (1, 1)}, {(0, 1), (1, 0)})  # each pasted face keeps one track, through the crossing
    [timeline] = list(plots.glob("*-timeline.png"))
    assert Image.open(timeline).size[0] > 300


@pytest.mark.slow
def test_truncated_video_keeps_its_records_and_says_so_in_one_line(tmp_path, model_dir, capsys):
    frames, _ = _two_faces(40)
    full = tmp_path / "full.mkv"
    write_video(full, frames, fps=4)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    out = tmp_path / "p.jsonl"
    argv = ["predict", str(cut), "--model", str(model_dir), "--out", str(out), "--workers", "0", "--no-progress"]
    assert main([*argv, "--faces", "none", "--fps", "1"]) == 0  # records were made: success, with a message
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert 1 < len(records) < 10 and [r["time"] for r in records] == sorted(r["time"] for r in records)
    err = [line for line in capsys.readouterr().err.splitlines() if "cut.mkv" in line]
    assert len(err) == 1 and "skipped" in err[0] and "Traceback" not in err[0]


def test_annotate_draws_each_photo(tmp_path, model_dir):
    astro = astronaut()
    image, placed = scene([(astro, 160, 0, (200, 200)), (astro, 120, 0, (520, 260))], (720, 420))
    photos = tmp_path / "photos"
    photos.mkdir()
    image.save(photos / "group.png")
    Image.new("RGB", (200, 150), (90, 90, 90)).save(photos / "wall.png")  # no face: drawn unchanged
    out, drawn = tmp_path / "p.jsonl", tmp_path / "drawn"
    argv = ["predict", str(photos), "--model", str(model_dir), "--out", str(out), "--annotate", str(drawn)]
    assert main([*argv, "--workers", "0", "--no-progress"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    faces = [r for r in records if "face" in r]
    assert len(faces) == 2 and [r for r in records if r.get("faces") == 0][0]["image"].endswith("wall.png")
    assert all(max(box_iou(r["box"], p.box) for p in placed) > 0.5 for r in faces)
    pictures = sorted(drawn.glob("*.png"))
    assert [p.name.split("-")[0] for p in pictures] == ["group", "wall"]
    group = Image.open(pictures[0]).convert("RGB")
    assert group.size == image.size and group.tobytes() != image.tobytes()  # boxes and labels were drawn
    x0, y0, x1, y1 = (round(v) for v in faces[0]["box"])
    assert group.getpixel((x0, (y0 + y1) // 2)) != image.getpixel((x0, (y0 + y1) // 2))  # on the box's edge
