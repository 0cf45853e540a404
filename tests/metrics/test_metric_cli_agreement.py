"""``emozoo agreement`` on the real binary.csv, on a wide table, and on bad input."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from metric_helpers import binary_by_emotion, reliability_matrix
from sklearn.metrics import cohen_kappa_score

from emozoo.cli import main
from emozoo.emonet.annotations import read_annotations
from emozoo.errors import DataError
from emozoo.taxonomy import NAMES


def test_binary_csv_alpha_and_kappa(emonet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "agreement.json"
    assert main(["agreement", str(emonet_dir / "binary.csv"), "--json", str(out), "--level", "nominal"]) == 0
    printed = capsys.readouterr().out
    assert "65686 ratings of 19999 images by 7 raters" in printed
    assert "Helplessness" in printed and "Hopelessness" not in printed
    result = json.loads(out.read_text())
    assert result["kappa"]["num_classes"] == 2 and set(result["per_emotion"]) == set(NAMES)
    cells = binary_by_emotion(emonet_dir)
    for name in NAMES:
        ref = krippendorff.alpha(reliability_matrix(cells[name]), level_of_measurement="nominal")
        assert result["per_emotion"][name]["alpha"] == pytest.approx(ref, abs=1e-9), name
    # pooled κ of one rater pair, from the raw rows
    pair, got = next((k, v) for k, v in result["pairs"].items() if v is not None)
    a, b = pair.split("|")
    shared = [
        (cells[e][(img, a)], cells[e][(img, b)])
        for e in NAMES
        for img, r in cells[e]
        if r == a and (img, b) in cells[e]
    ]
    ref = cohen_kappa_score(
        [int(x) for x, _ in shared], [int(y) for _, y in shared], weights="quadratic", labels=[0, 1]
    )
    assert got == pytest.approx(ref, abs=1e-12)


def test_wide_table_matches_long(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    keys = ["Positive High-Energy|Amusement", "anger", "Jealousy & Envy", "Extra Dimensions|Arousal"]
    wide, long = tmp_path / "wide.csv", tmp_path / "long.csv"
    with wide.open("w", newline="") as fw, long.open("w", newline="") as fl:
        ww, wl = csv.writer(fw), csv.writer(fl)
        ww.writerow(["path", "annotator", *keys])
        wl.writerow(["path", "annotator", "value", "emotion"])
        for img in range(30):
            for rater in rng.choice(5, 3, replace=False):
                values = [f"{v:.1f}" for v in rng.uniform(0, 7, 3)] + ["3"]
                values[1] = "" if rng.random() < 0.3 else values[1]
                ww.writerow([f"img{img}", f"r{rater}", *values])
                for key, v in zip(["Amusement", "Anger", "Jealousy & Envy"], values):
                    wl.writerow([f"img{img}", f"r{rater}", v, key])
    t_wide, t_long = read_annotations(wide), read_annotations(long)
    np.testing.assert_array_equal(t_wide.ratings, t_long.ratings)
    out = tmp_path / "rep"
    assert (
        main(["agreement", str(wide), "--format", "wide", "--json", str(tmp_path / "w.json"), "--out", str(out)]) == 0
    )
    result = json.loads((tmp_path / "w.json").read_text())
    # a 0..7 table: the report folder has α and κ per emotion, and no vote splits (those are for yes/no tables)
    assert sorted(p.name for p in out.iterdir()) == ["agreement.json", "agreement.md", "alpha_kappa_per_emotion.png"]
    assert "votes" not in result and "| Anger |" in (out / "agreement.md").read_text()
    assert list(result["per_emotion"]) == ["Amusement", "Anger", "Jealousy & Envy"]
    e = NAMES.index("Anger")
    ref = krippendorff.alpha(t_wide.ratings[:, :, e].T, level_of_measurement="interval")
    assert result["per_emotion"]["Anger"]["alpha"] == pytest.approx(ref, abs=1e-9)
    assert result["kappa"]["num_classes"] == 8
    assert "kappa (quadratic, 8 labels, truncated)" in capsys.readouterr().out


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("content", "args", "match"),
    [
        (None, [], "no such file"),
        ("a,b\n1,2\n", ["--format", "long"], "missing column.*present: a, b"),
        ("path,annotator,value\nx,r,1\n", ["--format", "long"], "missing column.*emotion"),
        ("path,annotator,value,emotion\nx,r,True,Angr\n", [], "unknown emotion 'Angr'.*Anger"),
        ("path,annotator,value,emotion\nx,r,maybe,Anger\n", [], ":2: value 'maybe'"),
        ("path,annotator,value,emotion\nx,r,1,Anger\nx,r,0,Anger\n", [], ":3: a second rating"),
        ("path,annotator,value,emotion\n", [], "no ratings"),
        ("", [], "present: none"),
        ("path,annotator,value,emotion\nx,r,9,Anger\ny,r,1,Anger\n", [], r":2: value .9. is outside the 0-7"),
        ("path,annotator,Amusement,Nonsense\nx,r,1,2\n", [], "column 'Nonsense'"),
        ("path,annotator,arousal\nx,r,1\n", [], "no emotion columns"),
        ("path,annotator,value,emotion\nx,r,1,Anger\n", ["--num-classes", "1"], "num_classes must be at least 2"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path: Path, capsys, content: str | None, args: list[str], match: str) -> None:
    path = tmp_path / "t.csv" if content is None else write(tmp_path / "t.csv", content)
    assert main(["agreement", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emozoo agreement: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert re.search(match, err), err


def test_reader_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="format"):
        read_annotations(write(tmp_path / "x.csv", "path\n"), format="tall")
