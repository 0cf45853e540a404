"""Untrusted tables (issue 13, item 1): ``shards convert`` reads only below the image root and embeds only images.

Each test builds a real folder tree: a table in ``data/``, images beside it, and files outside it (a secret, a
valid image) reached by absolute paths, ``..`` and symlinks. The reference for "not embedded" is independent of
the converter: the raw bytes of every file in the output folder must not contain the secret or the outside image.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from emozoo.cli import main
from emozoo.emonet import convert as convert_module
from emozoo.emonet.confine import RefusedFile, confine, read_confined
from emozoo.emonet.convert import convert_emonet
from emozoo.errors import DataError
from emozoo.images import load_image

SECRET = b"EMOZOO_TEST_TOKEN=hunter2-do-not-publish\n"
HEADER = "path,annotator,value,emotion\n"


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((6, 6, 3), i, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def members(out: Path) -> dict[str, bytes]:
    """Every tar member of the shard set, by name."""
    found = {}
    for path in sorted(out.glob("*.tar")):
        with tarfile.open(path) as tar:
            found.update({m.name: tar.extractfile(m).read() for m in tar.getmembers()})
    return found


def everything_written(out: Path) -> bytes:
    """The raw bytes of every file the converter left in ``out`` (shards, manifests)."""
    return b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file())


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``data/`` (the table's folder, so the image root) with two good images; ``outside/`` beside it."""
    (tmp_path / "data" / "imgs").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "data" / "imgs" / "good0.png").write_bytes(png(10))
    (tmp_path / "data" / "imgs" / "good1.png").write_bytes(png(20))
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside" / "face.png").write_bytes(png(99))
    return tmp_path


def table(tree: Path, refs: list[str]) -> Path:
    """A binary-layout CSV in ``data/`` naming the two good images and then ``refs``."""
    rows = [f"{ref},human-1,True,Anger\n" for ref in ["imgs/good0.png", "imgs/good1.png", *refs]]
    path = tree / "data" / "t.csv"
    path.write_text(HEADER + "".join(rows))
    return path


def convert(tree: Path, refs: list[str], out_name: str = "out", **kwargs) -> tuple[dict, Path]:
    out = tree / out_name
    manifest = convert_emonet("binary", [table(tree, refs)], out, splits="train=1", progress=False, **kwargs)
    return manifest, out


def assert_only_the_good_images(out: Path, tree: Path) -> None:
    got = members(out)
    images = {name: data for name, data in got.items() if not name.endswith(".json")}
    assert images == {
        "good0.png": (tree / "data/imgs/good0.png").read_bytes(),
        "good1.png": (tree / "data/imgs/good1.png").read_bytes(),
    }
    written = everything_written(out)
    assert SECRET.strip() not in written and png(99) not in written


ATTACKS = {
    "absolute": lambda tree: str(tree / "outside" / "secret.txt"),
    "absolute image": lambda tree: str(tree / "outside" / "face.png"),
    "dotdot": lambda tree: "../outside/secret.txt",
    "dotdot image": lambda tree: "imgs/../../outside/face.png",
    "symlink": lambda tree: _link(tree, "link.png", tree / "outside" / "secret.txt"),
    "symlink image": lambda tree: _link(tree, "face.png", tree / "outside" / "face.png"),
    "symlinked folder": lambda tree: _link(tree, "elsewhere", tree / "outside") + "/face.png",
}


def _link(tree: Path, name: str, target: Path) -> str:
    os.symlink(target, tree / "data" / "imgs" / name)
    return f"imgs/{name}"


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_table_cannot_embed_a_file_outside_its_folder(tree, attack):
    ref = ATTACKS[attack](tree)
    manifest, out = convert(tree, [ref])
    assert_only_the_good_images(out, tree)
    assert manifest["count"] == 2
    refused = manifest["refused_images"]
    assert refused["count"] == 1 and refused["images"][0]["image"] == ref
    assert "image root" in refused["images"][0]["reason"]


@pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="needs Linux /proc")
def test_the_process_environment_is_not_embedded(tree):
    """The reported attack: a row naming ``/proc/self/environ``."""
    environ = Path("/proc/self/environ").read_bytes()
    manifest, out = convert(tree, ["/proc/self/environ"])
    assert_only_the_good_images(out, tree)
    assert environ[:64] not in everything_written(out)
    assert manifest["refused_images"]["images"][0]["image"] == "/proc/self/environ"


@pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="needs Linux /proc")
def test_the_cli_reports_the_refusal_on_one_line_and_never_embeds_the_environment(tree):
    """The issue's reproduction, end to end: a fresh process whose environment holds a token."""
    path = table(tree, ["/proc/self/environ"])
    env = {**os.environ, "EMOZOO_TEST_TOKEN": "hunter2-cli-token", "PYTHONPATH": str(Path(__file__).parents[2])}
    for flag in ([], ["--allow-outside-root"]):
        out = tree / f"out{len(flag)}"
        command = [sys.executable, "-m", "emozoo.cli", "shards", "convert", "binary", str(path), "--out", str(out)]
        done = subprocess.run(
            [*command, "--no-progress", "--splits", "train=1", *flag], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert b"hunter2-cli-token" not in everything_written(out)
        assert len(members(out)) == 4  # the two good images and their labels
        kind = "undecodable" if flag else "refused"  # read when allowed, but it is not an image
        [line] = [line for line in done.stdout.splitlines() if f"{kind} images" in line]
        assert f"{kind} images: 1 left out (e.g. /proc/self/environ: " in line


def test_undecodable_images_are_reported_by_path_and_left_out(tree):
    imgs = tree / "data" / "imgs"
    (imgs / "text.png").write_bytes(b"just some text\n")
    (imgs / "magic.jpg").write_bytes(b"\xff\xd8\xff\xe0" + SECRET)  # JPEG magic bytes, then anything
    (imgs / "cut.png").write_bytes(png(5)[:40])
    (imgs / "empty.png").write_bytes(b"")
    bad = ["imgs/text.png", "imgs/magic.jpg", "imgs/cut.png", "imgs/empty.png"]
    manifest, out = convert(tree, bad)
    assert_only_the_good_images(out, tree)
    undecodable = manifest["undecodable_images"]
    assert undecodable["count"] == 4 and sorted(b["image"] for b in undecodable["images"]) == sorted(bad)
    for entry in undecodable["images"]:
        with pytest.raises(DataError):  # the reference: the project's one image reader refuses each of them
            load_image(tree / "data" / entry["image"])
    assert manifest["refused_images"]["count"] == 0 and manifest["count"] == 2


def test_an_image_over_the_pixel_cap_is_left_out(tree):
    big = Image.fromarray(np.zeros((40, 50, 3), np.uint8))
    big.save(tree / "data" / "imgs" / "big.png")
    manifest, out = convert(tree, ["imgs/big.png"], max_pixels=1000)
    assert_only_the_good_images(out, tree)
    assert "over the 1000 pixels cap" in manifest["undecodable_images"]["images"][0]["reason"]


def test_undecodable_embedded_bytes_are_left_out(tmp_path):
    images = [png(1), b"\x89PNG\r\n\x1a\n" + SECRET, png(2), SECRET]
    pq.write_table(
        pa.table({"image": pa.array(images, pa.binary()), "label": ['{"human-1": {"Anger": 3}}'] * 4}),
        tmp_path / "hq.parquet",
    )
    manifest = convert_emonet("hq", [tmp_path / "hq.parquet"], tmp_path / "out", splits="test=1", progress=False)
    got = members(tmp_path / "out")
    assert {k: v for k, v in got.items() if k.endswith(".png")} == {
        "hq-0000000.png": images[0],
        "hq-0000002.png": images[2],
    }
    assert [b["image"] for b in manifest["undecodable_images"]["images"]] == ["hq.parquet row 1", "hq.parquet row 3"]
    assert SECRET.strip() not in everything_written(tmp_path / "out")


def test_allow_outside_root_reads_them_and_still_embeds_only_images(tree):
    refs = [ATTACKS[a](tree) for a in ("absolute image", "dotdot image", "symlink image", "absolute", "symlink")]
    manifest, out = convert(tree, refs, allow_outside_root=True)
    got = members(out)
    assert got["face.png"] == png(99) and manifest["count"] == 3  # the outside image, found three ways: one key
    assert manifest["refused_images"]["count"] == 0
    assert [b["image"] for b in manifest["undecodable_images"]["images"]] == refs[3:]
    assert SECRET.strip() not in everything_written(out)


def test_the_cli_flag_allows_outside_files(tree, capsys):
    path = table(tree, [str(tree / "outside" / "face.png")])
    argv = ["shards", "convert", "binary", str(path), "--no-progress", "--splits", "train=1", "--out"]
    assert main([*argv, str(tree / "strict")]) == 0
    printed = capsys.readouterr().out
    assert f"refused images: 1 left out (e.g. {tree / 'outside' / 'face.png'}: outside the image root" in printed
    assert "--allow-outside-root" in printed
    assert main([*argv, str(tree / "allowed"), "--allow-outside-root"]) == 0
    assert members(tree / "allowed")["face.png"] == png(99) and "refused" not in capsys.readouterr().out


def test_with_images_symlinks_that_leave_the_folder_are_refused(tree):
    imgs = tree / "data" / "imgs"
    os.symlink(tree / "outside" / "face.png", imgs / "out.png")
    os.symlink(imgs / "good0.png", imgs / "alias.png")  # stays inside the root: fine
    (tree / "data" / "t.csv").write_text(HEADER + "".join(f"{n},human-1,True,Anger\n" for n in ("out", "alias")))
    manifest = convert_emonet(
        "binary", [tree / "data" / "t.csv"], tree / "out", images=imgs, splits="train=1", progress=False
    )
    got = members(tree / "out")
    assert got["alias.png"] == png(10) and "out.png" not in got and png(99) not in everything_written(tree / "out")
    assert manifest["refused_images"]["images"] == [
        {"image": "out", "reason": f"a symlink that leads out of the image root {imgs.resolve()}"}
    ]


@pytest.mark.timeout(60)
def test_a_fifo_or_a_folder_is_refused_without_waiting(tree):
    os.mkfifo(tree / "data" / "imgs" / "pipe.png")  # reading it would wait forever for a writer
    (tree / "data" / "imgs" / "dir.png").mkdir()
    manifest, out = convert(tree, ["imgs/pipe.png", "imgs/dir.png"])
    assert_only_the_good_images(out, tree)
    assert [b["reason"] for b in manifest["refused_images"]["images"]] == ["not a regular file"] * 2


def test_a_symlink_swapped_in_after_the_check_is_not_followed(tree):
    root = str((tree / "data").resolve())
    (tree / "data" / "sub").mkdir()
    (tree / "data" / "sub" / "face.png").write_bytes(png(1))
    checked = confine("sub/face.png", root)
    assert read_confined(checked, root) == png(1)
    os.rename(tree / "data" / "sub", tree / "data" / "old")
    os.symlink(tree / "outside", tree / "data" / "sub")  # now sub/face.png is the outside image
    with pytest.raises(RefusedFile, match="symlink"):
        read_confined(checked, root)
    with pytest.raises(RefusedFile, match="outside the image root"):
        read_confined("../outside/face.png", root)
    with pytest.raises(RefusedFile, match="not a regular file"):
        read_confined("/dev/null", None)


def test_a_file_changed_after_the_check_stops_the_run(tree, monkeypatch):
    real_check = convert_module.check_images

    def check_then_swap(*args, **kwargs):
        checked = real_check(*args, **kwargs)
        (tree / "data" / "imgs" / "good1.png").write_bytes(b"changed after the check")
        return checked

    monkeypatch.setattr(convert_module, "check_images", check_then_swap)
    with pytest.raises(DataError, match=r"imgs/good1.png: image changed or vanished since it was checked; run"):
        convert(tree, [])


def test_nothing_usable_names_the_refusals_and_the_flag(tree):
    (tree / "data" / "t.csv").write_text(HEADER + f"{tree / 'outside' / 'face.png'},human-1,True,Anger\n")
    with pytest.raises(DataError, match=r"no usable sample: .*1 refused \(first: '.*face.png'.*--allow-outside-root"):
        convert_emonet("binary", [tree / "data" / "t.csv"], tree / "out", progress=False)


def test_the_manifest_lists_every_refusal_as_json(tree):
    manifest, out = convert(tree, ["/etc/hostname", "../x/y.png"])
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["refused_images"] == manifest["refused_images"]
    assert [b["image"] for b in on_disk["refused_images"]["images"]] == ["/etc/hostname", "../x/y.png"]


def test_a_hard_link_inside_the_root_is_refused(tree):
    # The other name of a hard link may lie anywhere on the file system; nothing in the file says where.
    os.link(tree / "outside" / "face.png", tree / "data" / "imgs" / "linked.png")
    manifest, out = convert(tree, ["imgs/linked.png"])
    assert_only_the_good_images(out, tree)
    [refusal] = manifest["refused_images"]["images"]
    assert refusal["reason"].startswith("a hard link (2 names)") and "--allow-outside-root" in refusal["reason"]
    # Trusted folders still work: the flag reads it (the hard link is a valid image).
    manifest, out = convert(tree, ["imgs/linked.png"], "out-trusted", allow_outside_root=True)
    assert png(99) in members(out).values()


def test_a_file_over_the_size_cap_is_refused_before_it_is_read_whole(tree, monkeypatch):
    big = tree / "data" / "imgs" / "big.png"
    big.write_bytes(png(30) + b"\0" * 5000)  # a PNG with trailing bytes: it decodes, but is over a 2 kB cap
    monkeypatch.setenv("EMOZOO_MAX_FILE_BYTES", "2000")
    assert len(read_confined("imgs/good0.png", str((tree / "data").resolve()))) < 2000
    with pytest.raises(RefusedFile, match=r"larger than 2000 bytes \(EMOZOO_MAX_FILE_BYTES\)"):
        read_confined("imgs/big.png", str((tree / "data").resolve()))
    manifest, out = convert(tree, ["imgs/big.png"])
    assert_only_the_good_images(out, tree)
    assert [b["reason"] for b in manifest["refused_images"]["images"]] == [
        "larger than 2000 bytes (EMOZOO_MAX_FILE_BYTES)"
    ]
    monkeypatch.delenv("EMOZOO_MAX_FILE_BYTES")
    _, out = convert(tree, ["imgs/big.png"])
    assert big.read_bytes() in members(out).values()


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_a_bad_size_cap_is_a_one_line_error(tree, monkeypatch, capsys, value):
    monkeypatch.setenv("EMOZOO_MAX_FILE_BYTES", value)
    with pytest.raises(DataError, match=f"EMOZOO_MAX_FILE_BYTES='{value}': expected a positive number of bytes"):
        read_confined("imgs/good0.png", str((tree / "data").resolve()))
