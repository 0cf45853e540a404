"""Basic-emotion accuracy: the authors' FERD table from ferd.jsonl, emozoo predict records, own mappings, errors."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from emozoo.commands.basic import add_basic_args, run_basic
from emozoo.emonet.basic import basic_accuracy, load_mapping
from emozoo.emonet.basic_io import read_predictions, shard_labels
from emozoo.errors import DataError
from emozoo.taxonomy import NAMES, SLUGS

# The authors' eval.ipynb run on ferd.jsonl (issue 16): the oracle, not computed by the code under test.
FERD_TABLE = {
    "anger": 0.7368,
    "contempt": 0.3158,
    "disgust": 0.7895,
    "fear": 1.0,
    "happy": 1.0,
    "neutral": 0.8421,
    "sad": 0.7895,
    "surprise": 0.7895,
}


def ref_is_correct(row: dict, gt: str, mapping: dict[str, str | None]) -> bool:
    """eval.ipynb's is_correct, transcribed: softmax over mapped heads, any true-class head > 1.5 / n_mapped."""
    cutoff = 1.5 / sum(v is not None for v in mapping.values())
    preds = [(mapping.get(k), v["mean_subtracted"]) for k, v in row.items() if mapping.get(k)]
    emotions, vals = zip(*preds)
    sm = np.exp(vals) / np.exp(vals).sum()
    return any(e == gt and s > cutoff for e, s in zip(emotions, sm))


def _parser(tmp_path: Path, *argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--out")
    add_basic_args(p)
    return p.parse_args([*argv, "--out", str(tmp_path / "out")])


def test_ferd_table_is_reproduced_exactly(emonet_dir: Path, tmp_path: Path, capsys) -> None:
    args = _parser(tmp_path, "--basic", "ferd", "--predictions", str(emonet_dir / "ferd.jsonl"))
    assert run_basic(args) == 0
    result = json.loads((tmp_path / "out" / "basic.json").read_text())
    assert result["n"] == 152 and round(result["overall_accuracy"], 4) == 0.7829
    assert {c: round(v["accuracy"], 4) for c, v in result["per_class"].items()} == FERD_TABLE
    assert "| **overall** | 152 | **0.7829** |" in capsys.readouterr().out
    assert (tmp_path / "out" / "basic_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert np.array(result["confusion"]).sum() == 152


def test_per_image_hits_equal_the_notebook(emonet_dir: Path) -> None:
    authors = json.loads((Path(__file__).parents[2] / "emozoo/assets/basic_mappings.json").read_text())
    for name in ("ferd", "affectnet"):
        m = load_mapping(name)
        assert dict(zip(SLUGS, m.head_class)) == {
            k.removeprefix("model_").removesuffix("_best"): v for k, v in authors[name]["mapping"].items()
        }
    rows = [json.loads(line) for line in (emonet_dir / "ferd.jsonl").read_text().splitlines()]
    m = load_mapping("ferd")
    keys, scores, truth = read_predictions(emonet_dir / "ferd.jsonl", m)
    result = basic_accuracy(scores, truth, m, keys)
    for row, img in zip(rows, result["images"]):
        gt = row["image_path"].split("_")[-1].split(".")[0].lower().replace("surprised", "surprise")
        assert img["label"] == gt
        assert img["hit"] == ref_is_correct(row["results"], gt, authors["ferd"]["mapping"]), row["image_path"]


def test_emozoo_predict_records_give_the_same_answer(emonet_dir: Path, tmp_path: Path) -> None:
    """log(distribution) differs from mean_subtracted by a constant per image: the rule cannot tell them apart."""
    m = load_mapping("affectnet")
    keys, scores, _ = read_predictions(emonet_dir / "ferd.jsonl", load_mapping("ferd"))
    rng = np.random.default_rng(0)
    labels = [str(x) for x in rng.integers(0, 8, len(keys))]
    path = tmp_path / "pred.jsonl"
    with path.open("w") as fh:
        for key, s in zip(keys, scores):
            p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
            rec = {"image": f"shards/test-000000.tar:{Path(key).stem}", "distribution": dict(zip(NAMES, p.tolist()))}
            fh.write(json.dumps({**rec, "face": 0}) + "\n")
            fh.write(json.dumps({**rec, "face": 1, "distribution": {"Anger": 1.0}}) + "\n")  # a second face: left out
    table = {Path(k).stem: lab for k, lab in zip(keys, labels)}
    k2, s2, t2 = read_predictions(path, m, labels=table)
    want = basic_accuracy(scores, [m.true_class(x, "t") for x in labels], m, keys)
    got = basic_accuracy(s2, t2, m, k2)
    assert [i["hit"] for i in got["images"]] == [i["hit"] for i in want["images"]]
    assert got["overall_accuracy"] == want["overall_accuracy"] and t2[0] == m.labels[labels[0]]


def test_own_mapping_and_shard_labels(tmp_path: Path) -> None:
    import io
    import tarfile

    mapping = tmp_path / "raf.json"
    mapping.write_text(
        json.dumps(
            {
                "name": "raf",
                "mapping": {"Amusement": "happy", "model_anger_best": "angry", "sadness": "sad", "fear": None},
                "labels": {"4": "happy"},
            }
        )
    )
    m = load_mapping(mapping)
    assert m.classes == ["angry", "happy", "sad"] and m.n_mapped == 3 and m.true_class(4, "x") == "happy"
    with tarfile.open(tmp_path / "test-000000.tar", "w") as tar:
        for key, label in (("a", "4"), ("b", "sad")):
            data = json.dumps({"basic": label}).encode()
            info = tarfile.TarInfo(f"{key}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert shard_labels(tmp_path) == {"a": "4", "b": "sad"}
    s = np.full((2, 40), np.nan)
    s[:, [NAMES.index("Amusement"), NAMES.index("Anger"), NAMES.index("Sadness")]] = [[3, 0, 0], [0, 0, 3]]
    result = basic_accuracy(s, ["happy", "sad"], m)
    assert result["overall_accuracy"] == 1.0 and math.isclose(result["cutoff"], 0.5)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"mapping": {"Amusment": "happy"}}, "mapping key 'Amusment'.*Amusement"),
        ({"mapping": {"Amusement": 3}}, "class name or null"),
        ({"mapping": {"Amusement": None}}, "maps no head"),
        ({"mapping": {"Amusement": "happy"}, "threshold": "x"}, "threshold"),
        ([1, 2], 'a "mapping" object'),
    ],
)
def test_bad_mapping_is_one_line_error(tmp_path: Path, content, match: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=match):
        load_mapping(path)


def test_bad_predictions(tmp_path: Path) -> None:
    m = load_mapping("ferd")
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"image_path": "x_Happy.jpg", "results": {"model_anger_best": {}}}) + "\n")
    with pytest.raises(DataError, match="p.jsonl:1: results.*not a finite number"):
        read_predictions(path, m)
    path.write_text(json.dumps({"image": "x_Grumpy.jpg", "distribution": {"Anger": 1.0}}) + "\n")
    with pytest.raises(DataError, match="label 'grumpy' is not one of the ferd classes"):
        read_predictions(path, m)
    with pytest.raises(DataError, match="neither ferd nor affectnet"):
        load_mapping("rafdb")
