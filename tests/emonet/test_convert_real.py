"""The real ``binary.csv`` (65,686 expert answers on 19,999 images) through the converter, resuming, and the CLI."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from emozoo.cli import main
from emozoo.data import shardwriter
from emozoo.emonet.convert import convert_emonet
from emozoo.taxonomy import canonical_name
from tests.emonet.test_convert import png, read_shards


@pytest.fixture(scope="session")
def binary_images(emonet_dir, tmp_path_factory) -> Path:
    """One tiny placeholder PNG per image of binary.csv, named like the authors' files (``00000.png``)."""
    folder = tmp_path_factory.mktemp("binary-images")
    with open(emonet_dir / "binary.csv", newline="") as f:
        paths = sorted({row["path"] for row in csv.DictReader(f)})
    for i, path in enumerate(paths):
        (folder / f"{path}.png").write_bytes(png(i))
    return folder


@pytest.fixture(scope="session")
def converted(emonet_dir, binary_images, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("emonet") / "binary"
    manifest = convert_emonet("binary", [emonet_dir / "binary.csv"], out, images=binary_images, progress=False)
    return out, manifest


def test_every_real_binary_label_lands_in_the_shards(emonet_dir, converted):
    out, manifest = converted
    expected: dict[str, dict[str, dict[str, bool]]] = defaultdict(dict)
    with open(emonet_dir / "binary.csv", newline="") as f:
        for row in csv.DictReader(f):
            answers = expected[row["path"]].setdefault(canonical_name(row["emotion"]), {})
            answers[row["annotator"]] = row["value"] == "True"
    got = read_shards(out)
    assert len(got) == len(expected) == 19_999 == manifest["count"]
    answers = sum(len(a) for sample in got.values() for a in sample["json"]["binary"].values())
    assert answers == 65_686 == manifest["label_stats"]["all"]["binary"]["num_answers"]
    assert {key: sample["json"]["binary"] for key, sample in got.items()} == expected
    assert all(sample["json"]["source"] == "emonet-binary" and "png" in sample for sample in got.values())
    assert "Hopelessness" not in json.dumps(manifest["label_stats"]) and manifest["missing_images"]["count"] == 0
    assert manifest["raters"] == [f"human-{i}" for i in range(1, 8)]
    shares = {name: info["count"] / 19_999 for name, info in manifest["splits"].items()}
    assert shares["train"] == pytest.approx(0.9, abs=0.01) and shares["test"] == pytest.approx(0.05, abs=0.01)


def test_a_killed_conversion_resumes_to_the_same_bytes(emonet_dir, binary_images, converted, tmp_path, monkeypatch):
    reference, _ = converted
    real_write, calls = shardwriter.ShardSetWriter.write, []

    def dying_write(self, spec, samples):
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed after three shards
        calls.append(spec.file)
        return real_write(self, spec, samples)

    monkeypatch.setattr(shardwriter.ShardSetWriter, "write", dying_write)
    inputs, out = [emonet_dir / "binary.csv"], tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        convert_emonet("binary", inputs, out, images=binary_images, progress=False)
    assert len(list(out.glob("*.tar"))) == 3 and (out / "manifest.partial.json").is_file()
    monkeypatch.setattr(shardwriter.ShardSetWriter, "write", real_write)
    written = []
    monkeypatch.setattr(shardwriter, "write_tar", _spy(shardwriter.write_tar, written))
    convert_emonet("binary", inputs, out, images=binary_images, progress=False)
    assert not set(calls) & set(written)  # the three finished shards were not written again
    files = sorted(p.name for p in reference.glob("*"))
    assert files == sorted(p.name for p in out.glob("*"))
    for name in files:
        assert (reference / name).read_bytes() == (out / name).read_bytes(), name


def _spy(fn, log):
    def wrapper(path, samples):
        log.append(Path(path).name)
        return fn(path, samples)

    return wrapper


def test_cli_convert_prints_a_summary_and_reports_missing_images(tmp_path, capsys):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png(1))
    (tmp_path / "t.csv").write_text("path,annotator,value,emotion\na,human-1,True,Anger\nb,human-1,False,Pain\n")
    out = tmp_path / "out"
    code = main(
        [
            "shards",
            "convert",
            "binary",
            str(tmp_path / "t.csv"),
            "--images",
            str(tmp_path / "imgs"),
            "--out",
            str(out),
            "--no-progress",
            "--splits",
            "train=1",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "1 images" in printed and "missing images: 1 not found (e.g. b)" in printed
    assert json.loads((out / "manifest.json").read_text())["splits"] == {"train": {"count": 1, "shards": 1}}
    code = main(["shards", "convert", "binary", str(tmp_path / "t.csv"), "--map", "imag=path"])
    assert code == 2 and "unknown column-map key 'imag'" in capsys.readouterr().err
