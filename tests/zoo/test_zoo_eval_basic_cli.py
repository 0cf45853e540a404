"""``emozoo eval --basic`` with a model: images scored through the predict path, then the authors' rule.

The oracle is the same rule applied by hand to ``emozoo predict``'s own JSONL of the same images, so the test fails
if eval's model path scores, keys or labels the images differently from predict.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emozoo.cli import main
from emozoo.emonet.basic import load_mapping
from tests.zoo.conftest import image_bytes

FERD_NAMES = ["0001_Anger.png", "0002_Happy.png", "0003_Surprised.png", "0004_Sad.png", "0005_Neutral.png"]


def test_eval_basic_with_a_model_equals_the_rule_on_predict_output(tmp_path: Path, tiny_model_dir: Path, capsys):
    images = tmp_path / "ferd"
    images.mkdir()
    for seed, name in enumerate(FERD_NAMES):
        (images / name).write_bytes(image_bytes(seed))
    out = tmp_path / "basic"
    argv = ["eval", "--basic", "ferd", "--model", str(tiny_model_dir), "--data", str(images), "--out", str(out)]
    assert main([*argv, "--workers", "0", "--device", "cpu", "--no-progress"]) == 0
    result = json.loads((out / "basic.json").read_text())
    assert result["n"] == len(FERD_NAMES)

    pred = tmp_path / "p.jsonl"
    assert (
        main(
            [
                "predict",
                str(images),
                "--model",
                str(tiny_model_dir),
                "--out",
                str(pred),
                "--workers",
                "0",
                "--faces",
                "none",
            ]
        )
        == 0
    )
    mapping = load_mapping("ferd")
    heads = [i for i, c in enumerate(mapping.head_class) if c is not None]
    cutoff = 1.5 / len(heads)
    hits = []
    for line in pred.read_text().splitlines():
        rec = json.loads(line)
        truth = mapping.true_class(Path(rec["image"]).stem.split("_", 1)[1], rec["image"])
        logits = np.log([list(rec["distribution"].values())[i] for i in heads])
        soft = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        hits.append(any(mapping.head_class[h] == truth and s > cutoff for h, s in zip(heads, soft)))
    assert result["overall_accuracy"] == np.mean(hits)
    assert "overall" in capsys.readouterr().out


def test_eval_without_model_or_basic_is_one_line(capsys):
    assert main(["eval", "--data", "x"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--model" in err[0]
