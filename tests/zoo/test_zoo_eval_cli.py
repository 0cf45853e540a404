"""``emozoo eval``: the agreement report of a model on a rated shard set equals ``agreement_report`` computed on
predictions and ratings read independently (PIL + json straight from the tars)."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

import emozoo
from emozoo.cli import main
from emozoo.metrics import agreement_report
from tests.conftest import make_shard_set


def _independent(model_dir, shard_dir, raters):
    model = emozoo.load_model(model_dir)
    tf = model.transform()
    preds, ratings = [], []
    for tar_path in sorted(shard_dir.glob("test-*.tar")):
        with tarfile.open(tar_path) as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        for key in sorted({n.rsplit(".", 1)[0] for n in members}):
            meta = json.loads(members[f"{key}.json"])
            img = Image.open(__import__("io").BytesIO(members[f"{key}.png"]))
            with torch.no_grad():
                preds.append(model(tf(img)[None])["intensity"][0])
            dense = np.full((len(raters), 40), np.nan)
            for r, vec in meta["ratings"].items():
                dense[raters.index(r)] = vec
            ratings.append(dense)
    return torch.stack(preds).numpy(), np.stack(ratings)


def test_eval_matches_an_independent_computation(tmp_path, tiny_model_dir, capsys):
    make_shard_set(tmp_path / "hq", "test", 24, 8, "ratings", seed=4)
    out = tmp_path / "report"
    args = ["eval", "--model", str(tiny_model_dir), "--data", str(tmp_path / "hq"), "--split", "test"]
    assert main([*args, "--out", str(out), "--n-bootstrap", "20", "--workers", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "24 rated images, 5 raters" in printed and "Mean ρ" in printed and "report.json" in printed
    report = json.loads((out / "report.json").read_text())
    for name in ("report.md", "spearman_per_emotion.png", "kappa_by_group.png"):
        assert (out / name).is_file()
    raters = json.loads((tmp_path / "hq" / "manifest.json").read_text())["raters"]
    preds, ratings = _independent(tiny_model_dir, tmp_path / "hq", raters)
    # workers split the shards, so the image order differs: the report is order-free except for the bootstrap
    want = agreement_report(preds, ratings, rater_names=raters, n_bootstrap=20)
    assert report["model"]["mean_spearman"] == pytest.approx(want["model"]["mean_spearman"], abs=1e-6)
    assert report["kappa"]["model_human"]["mean"] == pytest.approx(want["kappa"]["model_human"]["mean"], abs=1e-9)
    assert report["alpha"]["mean"] == pytest.approx(want["alpha"]["mean"], abs=1e-9)
    assert report["meta"]["n_images"] == 24 and report["meta"]["skipped_samples"] == 0


def test_eval_errors_are_one_line(tmp_path, tiny_model_dir, capsys):
    make_shard_set(tmp_path / "hq", "test", 4, 4, "ratings")
    args = ["eval", "--model", str(tiny_model_dir), "--data", str(tmp_path / "hq"), "--split", "val"]
    assert main(args) == 2
    assert "no 'val-*.tar' shards" in capsys.readouterr().err
    make_shard_set(tmp_path / "big", "test", 4, 4, "weak")
    args = ["eval", "--model", str(tiny_model_dir), "--data", str(tmp_path / "big"), "--workers", "0"]
    assert main([*args, "--no-progress", "--out", str(tmp_path / "r")]) == 2
    assert "per-rater ratings" in capsys.readouterr().err


def test_eval_on_embedding_shards_needs_no_encoder(tmp_path, tiny_model_dir, capsys):
    """Embedding shards (emozoo embed) are scored by the head alone: an Empathic-Insight release without SigLIP."""
    import io

    from emozoo.data.embeddings import embed_shards

    from .conftest import write_release

    make_shard_set(tmp_path / "hq", "test", 16, 8, "ratings", seed=5)
    backbone = emozoo.load_model(tiny_model_dir).backbone
    embed_shards(tmp_path / "hq", backbone, tmp_path / "emb", progress=False)
    refs = write_release(tmp_path / "rel", (128, 32), width=backbone.num_features, extras=False)
    out = tmp_path / "report"
    args = ["eval", "--model", str(tmp_path / "rel"), "--data", str(tmp_path / "emb"), "--out", str(out)]
    assert main([*args, "--n-bootstrap", "10", "--workers", "0", "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    raters = json.loads((tmp_path / "hq" / "manifest.json").read_text())["raters"]
    embeddings, ratings = [], []
    for tar_path in sorted((tmp_path / "emb").glob("test-*.tar")):
        with tarfile.open(tar_path) as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        for key in sorted({n.rsplit(".", 1)[0] for n in members}):
            embeddings.append(np.load(io.BytesIO(members[f"{key}.npy"])).astype(np.float32))
            dense = np.full((len(raters), 40), np.nan)
            for r, vec in json.loads(members[f"{key}.json"])["ratings"].items():
                dense[raters.index(r)] = vec
            ratings.append(dense)
    from emozoo.taxonomy import SLUGS

    with torch.no_grad():
        x = torch.from_numpy(np.stack(embeddings))
        raw = torch.cat([refs[s](x) for s in SLUGS], dim=-1).clamp(0, 7)
    want = agreement_report(raw.numpy(), np.stack(ratings), rater_names=raters, n_bootstrap=10)
    assert report["meta"]["n_images"] == 16
    assert report["model"]["mean_spearman"] == pytest.approx(want["model"]["mean_spearman"], abs=1e-6)
    # a full model is refused on embeddings its backbone did not make (here: a differently seeded random init)
    torch.manual_seed(1)
    other = emozoo.create_model("cnn-tiny", "mlp", backbone_args={"widths": (8, 16), "img_size": 32})
    emozoo.save_pretrained(other, tmp_path / "other")
    args = ["eval", "--model", str(tmp_path / "other"), "--data", str(tmp_path / "emb"), "--workers", "0"]
    assert main([*args, "--out", str(tmp_path / "r2")]) == 2
    assert "other weights than the one that made the embeddings" in capsys.readouterr().err


def test_eval_faces_largest_scores_the_face_and_falls_back_to_the_whole_image(tmp_path, tiny_model_dir):
    from emozoo.errors import ConfigError
    from emozoo.faces import crop_faces
    from emozoo.inference.crops import LargestFaceOrWhole
    from tests.faces.scenes import astronaut, scene

    photo, _ = scene([(astronaut(), 150, 0, (300, 220)), (astronaut(), 90, 0, (120, 120))], (640, 480))
    face = LargestFaceOrWhole()(photo)
    assert face.size[0] < 400 and face.tobytes() == crop_faces(photo, "largest")[0].image.tobytes()
    blank = Image.new("RGB", (64, 48), (90, 90, 90))
    assert LargestFaceOrWhole()(blank) is blank  # no face: the rated image is still scored, whole

    make_shard_set(tmp_path / "hq", "test", 12, 6, "ratings", seed=5)  # random pixels: no face anywhere
    reports = [
        emozoo.evaluate(str(tiny_model_dir), tmp_path / "hq", faces=f, n_bootstrap=5, device="cpu")
        for f in ("none", "largest")
    ]
    assert reports[0]["model"]["mean_spearman"] == reports[1]["model"]["mean_spearman"]
    with pytest.raises(ConfigError, match="'none' or 'largest'"):
        emozoo.evaluate(str(tiny_model_dir), tmp_path / "hq", faces="all")
