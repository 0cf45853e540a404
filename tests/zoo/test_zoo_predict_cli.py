"""``emozoo predict``: folders, globs and shards in; JSONL/CSV records that match the model run image by image;
unreadable images reported and skipped; PNG plots."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from PIL import Image

import emozoo
from emozoo.cli import main
from emozoo.taxonomy import NAMES
from tests.conftest import make_shard_set

from .conftest import image_bytes, write_release


@pytest.fixture
def image_dir(tmp_path):
    d = tmp_path / "imgs"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "a.png").write_bytes(image_bytes(1))
    (d / "sub" / "b.jpg").write_bytes(image_bytes(2, fmt="JPEG"))
    (d / "sub" / "deeper" / "c.png").write_bytes(image_bytes(3, size=64))
    (d / "sub" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (d / "truncated.png").write_bytes(image_bytes(4)[:200])
    (d / "notes.txt").write_text("not an image, and not asked for")
    return d


def _reference(model_dir, paths):
    """Intensity and distribution of each image, one at a time, straight through the model."""
    model = emozoo.load_model(model_dir)
    tf = model.transform()
    with torch.no_grad():
        outs = [model(tf(Image.open(p))[None]) for p in paths]
    return {str(p): (o["intensity"][0], o["distribution"][0]) for p, o in zip(paths, outs)}


def _check_record(names_to_values: dict, top: list[str], ref=None):
    inten, dist = names_to_values["intensity"], names_to_values["distribution"]
    assert list(inten) == list(NAMES) and list(dist) == list(NAMES)
    assert math.isclose(sum(dist.values()), 1.0, abs_tol=1e-5)
    assert all(0.0 <= v <= 7.0 for v in inten.values())
    floor = min(inten[n] for n in top)
    assert all(inten[n] <= floor for n in NAMES if n not in top)  # top-k by intensity
    assert [inten[n] for n in top] == sorted((inten[n] for n in top), reverse=True)
    if ref is not None:
        torch.testing.assert_close(torch.tensor([inten[n] for n in NAMES]), ref[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(torch.tensor([dist[n] for n in NAMES]), ref[1], atol=1e-6, rtol=1e-5)


def test_folder_to_jsonl_skips_unreadable_images(tmp_path, image_dir, tiny_model_dir, capsys):
    out, plots = tmp_path / "pred.jsonl", tmp_path / "plots"
    args = ["predict", str(image_dir), "--model", str(tiny_model_dir), "--out", str(out), "--top-k", "3", "--faces"]
    args.append("none")  # random-pixel images: whole-image scoring
    assert main([*args, "--workers", "1", "--batch-size", "2", "--plot", str(plots), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "corrupt.jpg" in err and "truncated.png" in err and "notes.txt" not in err
    assert "3 images (2 skipped)" in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    good = [image_dir / "a.png", image_dir / "sub" / "b.jpg", image_dir / "sub" / "deeper" / "c.png"]
    assert sorted(r["image"] for r in records) == sorted(map(str, good))
    ref = _reference(tiny_model_dir, good)
    for rec in records:
        assert len(rec["top_k"]) == 3
        assert all(t["intensity"] == rec["intensity"][t["emotion"]] for t in rec["top_k"])
        assert all(t["probability"] == rec["distribution"][t["emotion"]] for t in rec["top_k"])
        _check_record(rec, [t["emotion"] for t in rec["top_k"]], ref[rec["image"]])
    pngs = sorted(plots.glob("*.png"))
    assert len(pngs) == 3 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_csv_output_and_globs(tmp_path, image_dir, tiny_model_dir):
    out = tmp_path / "pred.csv"
    pattern = str(image_dir / "**" / "*.png")
    assert main(["predict", pattern, "--model", str(tiny_model_dir), "--out", str(out), "--workers", "0",
                 "--faces=none", "--top-k", "4", "--no-progress"]) == 0  # fmt: skip
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["image"] for r in rows) == sorted(
        str(p) for p in (image_dir / "a.png", image_dir / "sub" / "deeper" / "c.png")
    )  # the truncated PNG matched the glob too: reported, not written
    ref = _reference(tiny_model_dir, [r["image"] for r in rows])
    for row in rows:
        rec = {k: {n: float(row[f"{k}:{n}"]) for n in NAMES} for k in ("intensity", "distribution")}
        _check_record(rec, [row[f"top{i}"] for i in range(1, 5)], ref[row["image"]])


def test_shards_and_bf16(tmp_path, tiny_model_dir):
    make_shard_set(tmp_path / "hq", "test", 10, 5, "ratings", seed=3)
    out32, out16 = tmp_path / "p32.jsonl", tmp_path / "p16.jsonl"
    for out, prec in ((out32, "32"), (out16, "bf16")):
        args = [str(tmp_path / "hq"), "--model", str(tiny_model_dir), "--out", str(out), "--precision", prec]
        assert main(["predict", *args, "--workers", "2", "--no-progress", "--faces", "none"]) == 0
    a = {r["image"]: r for r in map(json.loads, out32.read_text().splitlines())}
    b = {r["image"]: r for r in map(json.loads, out16.read_text().splitlines())}
    assert len(a) == 10 and a.keys() == b.keys()
    assert all(k.split(":")[0].endswith(".tar") and ":img-test-" in k for k in a)
    for k in a:
        x = torch.tensor(list(a[k]["distribution"].values()))
        y = torch.tensor(list(b[k]["distribution"].values()))
        torch.testing.assert_close(x, y, atol=2e-3, rtol=0.05)  # bf16 autocast: close, not equal
        _check_record(b[k], [t["emotion"] for t in b[k]["top_k"]])


def test_bad_inputs_exit_with_one_line(tmp_path, tiny_model_dir, capsys):
    assert main(["predict", str(tmp_path / "absent"), "--model", str(tiny_model_dir)]) == 2
    assert "input not found" in capsys.readouterr().err
    write_release(tmp_path / "heads", (128, 32), width=8, extras=False)
    (tmp_path / "x.png").write_bytes(image_bytes(0))
    args = ["predict", str(tmp_path / "x.png"), "--model", str(tmp_path / "heads"), "--encoder", "false"]
    assert main(args) == 2
    assert "without an image encoder" in capsys.readouterr().err


def test_cli_precisions_are_the_inference_ones():
    """The CLI keeps its own copy so that `emozoo --help` does not import torch; it must not drift."""
    from emozoo.commands._args import PRECISIONS
    from emozoo.inference import PRECISIONS as INFERENCE_PRECISIONS

    assert PRECISIONS == INFERENCE_PRECISIONS
