"""SynthFace: determinism, sample schema, manifests, rater agreement, visual signatures and learnability."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from emozoo.errors import DataError
from emozoo.synthface import generate as synthface
from emozoo.synthface.actions import actions_from_latent, signature_matrix
from emozoo.synthface.generate import SynthFaceConfig, generate_synthface, make_sample
from emozoo.synthface.latent import sample_latent
from emozoo.synthface.people import sample_person, sample_scene
from emozoo.synthface.raters import RaterPanel
from emozoo.synthface.render import render_face
from emozoo.synthface.stats import loo_spearman, pairwise_kappa, quadratic_kappa
from emozoo.taxonomy import EMOTIONS, EXTRA_DIMENSIONS, NAMES, emotion_index

SMALL = {"num_big": 20, "num_binary": 14, "num_hq_val": 6, "num_hq_test": 10, "shard_size": 8, "image_size": 64}


def _tars(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.tar"))}


def _read(path: Path) -> list[tuple[str, dict[str, bytes]]]:
    """Samples of a tar in order: (key, {ext: bytes})."""
    samples: dict[str, dict[str, bytes]] = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            key, ext = member.name.split(".", 1)
            samples.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return list(samples.items())


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthface")
    generate_synthface(out, **SMALL, progress=False, num_workers=1)
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(small_set, tmp_path):
    generate_synthface(tmp_path / "again", **SMALL, progress=False, num_workers=1)
    assert _tars(tmp_path / "again") == _tars(small_set)
    assert (tmp_path / "again/manifest.json").read_text() == (small_set / "manifest.json").read_text()
    generate_synthface(tmp_path / "other", **{**SMALL, "seed": 1}, progress=False, num_workers=1)
    other = _tars(tmp_path / "other")
    assert other.keys() == _tars(small_set).keys()
    assert all(other[k] != v for k, v in _tars(small_set).items())


def test_worker_processes_give_the_same_bytes(small_set, tmp_path, monkeypatch):
    monkeypatch.setattr(synthface, "_PARALLEL_MIN", 1)
    generate_synthface(tmp_path, **SMALL, progress=False, num_workers=2)
    assert _tars(tmp_path) == _tars(small_set)


def test_sample_depends_only_on_seed_stream_index():
    cfg, panel = SynthFaceConfig(image_size=32), RaterPanel.create(0)
    a = make_sample(cfg, panel, "big", 7)
    make_sample(cfg, panel, "big", 3)  # other samples in between change nothing
    assert make_sample(cfg, panel, "big", 7) == a
    assert make_sample(cfg, panel, "binary", 7)["json"]["truth"] != a["json"]["truth"]


def test_every_sample_follows_the_schema(small_set):
    raters = {f"rater-{i}" for i in range(1, 9)}
    expected = {"big": ["train"], "binary": ["train"], "hq": ["val", "test"]}
    for subset, splits in expected.items():
        for split in splits:
            keys = []
            for path in sorted((small_set / subset).glob(f"{split}-*.tar")):
                for key, files in _read(path):
                    keys.append(key)
                    assert set(files) == {"jpg", "json"}
                    image = Image.open(io.BytesIO(files["jpg"]))
                    assert image.format == "JPEG" and image.size == (64, 64) and image.mode == "RGB"
                    meta = json.loads(files["json"])
                    assert meta["source"] == "synthface"
                    assert set(meta) == {
                        "source",
                        "demographics",
                        "prompt",
                        "ratings",
                        "binary",
                        "weak",
                        "extra",
                        "truth",
                    }
                    demo = meta["demographics"]
                    assert isinstance(demo["age"], int) and 18 <= demo["age"] <= 80
                    assert demo["gender"] in ("female", "male") and isinstance(demo["ethnicity"], str)
                    assert isinstance(meta["prompt"], str) and f"{demo['age']}-year-old" in meta["prompt"]
                    truth = meta["truth"]
                    assert len(truth) == 40 and all(0 <= v <= 7 for v in truth)
                    _check_labels(subset, meta, raters)
            stream = subset if subset != "hq" else f"hq-{split}"
            n = SMALL["num_hq_val" if split == "val" else "num_hq_test"] if subset == "hq" else SMALL[f"num_{subset}"]
            assert keys == [f"sf-{stream}-{i:06d}" for i in range(n)]


def _check_labels(subset: str, meta: dict, raters: set[str]) -> None:
    if subset == "big":
        weak = meta["weak"]
        assert len(weak) == 40 and all(isinstance(v, int) and 0 <= v <= 7 for v in weak)
        assert sum(v > 0 for v in weak) <= 5
        assert set(meta["extra"]) == set(EXTRA_DIMENSIONS)
        for key, (lo, hi) in EXTRA_DIMENSIONS.items():
            assert lo <= meta["extra"][key] <= hi
        assert meta["ratings"] == {} and meta["binary"] == {}
    elif subset == "binary":
        assert len(meta["binary"]) == 2 and set(meta["binary"]) <= set(NAMES)
        for answers in meta["binary"].values():
            assert 1 <= len(answers) <= 3 and set(answers) <= raters
            assert all(isinstance(v, bool) for v in answers.values())
        assert meta["ratings"] == {} and meta["weak"] is None and meta["extra"] is None
    else:
        assert len(meta["ratings"]) == 4 and set(meta["ratings"]) <= raters
        for values in meta["ratings"].values():
            assert len(values) == 40 and all(isinstance(v, float) and 0 <= v <= 7 for v in values)
        assert meta["binary"] == {} and meta["weak"] is None and meta["extra"] is None


def test_manifests_match_the_files(small_set):
    top = json.loads((small_set / "manifest.json").read_text())
    assert top["generator"]["name"] == "synthface"
    assert top["generator"]["params"] == {
        **SMALL,
        "seed": 0,
        "image_format": "jpg",
        "num_raters": 8,
        "raters_per_image": 4,
    }
    for subset, info in top["subsets"].items():
        manifest_path = small_set / info["manifest"]
        assert hashlib.sha256(manifest_path.read_bytes()).hexdigest() == info["sha256"]
        manifest = json.loads(manifest_path.read_text())
        assert manifest["generator"] == top["generator"] and manifest["splits"] == info["splits"]
        on_disk = sorted(p.name for p in (small_set / subset).glob("*.tar"))
        assert sorted(s["file"] for s in manifest["shards"]) == on_disk
        for shard in manifest["shards"]:
            data = (small_set / subset / shard["file"]).read_bytes()
            assert shard["sha256"] == hashlib.sha256(data).hexdigest() and shard["bytes"] == len(data)
            assert shard["count"] == len(_read(small_set / subset / shard["file"]))
            assert shard["file"].startswith(shard["split"] + "-")
        for split, total in manifest["splits"].items():
            assert total["count"] == sum(s["count"] for s in manifest["shards"] if s["split"] == split)
        assert manifest["raters"] == sorted(manifest["raters"])
        assert manifest["label_stats"]["num_samples"] == manifest["count"]
        assert sum(manifest["label_stats"]["demographics"]["gender"].values()) == manifest["count"]
    assert top["subsets"]["hq"]["splits"] == {"val": {"count": 6, "shards": 1}, "test": {"count": 10, "shards": 2}}
    assert "kappa" in json.loads((small_set / "hq/manifest.json").read_text())["label_stats"]["ratings"]


def test_rerun_is_a_noop_resumes_and_refuses_other_params(small_set, tmp_path):
    out = tmp_path / "set"
    generate_synthface(out, **SMALL, progress=False, num_workers=1)
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    start = time.perf_counter()
    generate_synthface(out, **SMALL, progress=False, num_workers=1)
    assert time.perf_counter() - start < 1.0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamp
    (out / "big/train-000001.tar").unlink()  # a lost shard is regenerated, identically
    generate_synthface(out, **SMALL, progress=False, num_workers=1)
    assert _tars(out) == _tars(small_set)
    with pytest.raises(DataError, match=r"seed: 0 -> 2.*another --out"):
        generate_synthface(out, **{**SMALL, "seed": 2}, progress=False)


def test_cli(tmp_path, capsys):
    from emozoo.cli import main

    args = [
        "shards",
        "synthface",
        "--out",
        str(tmp_path),
        "--num-big",
        "3",
        "--num-binary",
        "2",
        "--num-hq-val",
        "0",
        "--num-hq-test",
        "2",
        "--image-size",
        "32",
        "--format",
        "png",
        "--no-progress",
    ]
    assert main(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "binary", "hq", "manifest.json"]
    assert _read(tmp_path / "hq/test-000000.tar")[0][1].keys() == {"png", "json"}
    assert main(args[:-1] + ["--seed", "5", "--no-progress"]) == 2
    assert "another --out" in capsys.readouterr().err


# --- labels -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hq_labels() -> tuple[list[dict], np.ndarray]:
    cfg, panel = SynthFaceConfig(), RaterPanel.create(0)
    metas = [make_sample(cfg, panel, "hq-test", i, render=False)["json"] for i in range(400)]
    return [m["ratings"] for m in metas], np.array([m["truth"] for m in metas])


def test_rater_agreement_is_in_the_papers_range(hq_labels):
    from sklearn.metrics import cohen_kappa_score

    ratings, _ = hq_labels
    per_pair, pooled = [], []
    raters = sorted({r for item in ratings for r in item})
    for r1, r2 in combinations(raters, 2):
        both = [(item[r1], item[r2]) for item in ratings if r1 in item and r2 in item]
        a = np.array([x for x, _ in both]).astype(int)
        b = np.array([y for _, y in both]).astype(int)
        kappas = []
        for e in range(40):
            if len(set(a[:, e]) | set(b[:, e])) > 1:
                kappas.append(cohen_kappa_score(a[:, e], b[:, e], weights="quadratic"))
                # ours weighs the 8 levels 0..7 by value (architecture §1), like scikit-learn with all labels given
                reference = cohen_kappa_score(a[:, e], b[:, e], weights="quadratic", labels=list(range(8)))
                assert quadratic_kappa(a[:, e], b[:, e]) == pytest.approx(reference, abs=1e-9)
        per_pair.append(np.nanmean(kappas))
        pooled.append(cohen_kappa_score(a.ravel(), b.ravel(), weights="quadratic"))
    assert 0.2 <= np.mean(per_pair) <= 0.5, np.mean(per_pair)
    assert 0.2 <= np.mean(pooled) <= 0.5, np.mean(pooled)


def test_raters_are_noisy_but_the_truth_beats_them(hq_labels):
    ratings, truth = hq_labels
    rho = loo_spearman(ratings, truth)
    assert 0.15 < rho["rater"] < 0.7  # a single expert against the median of the others
    assert rho["truth"] > rho["rater"] + 0.1  # room for a model to reach "human-expert level" and beyond


def test_stats_equal_plain_sklearn_and_scipy_loops(hq_labels):
    """LabelStats' κ and leave-one-out ρ (now from emozoo.metrics) equal the loops they replaced, to 1e-12."""
    from sklearn.metrics import cohen_kappa_score

    ratings, truth = hq_labels
    ratings, truth = ratings[:150], truth[:150]
    raters = sorted({r for item in ratings for r in item})
    units, pooled = [], []
    for r1, r2 in combinations(raters, 2):
        both = [(item[r1], item[r2]) for item in ratings if item.get(r1) and item.get(r2)]
        if len(both) < 2:
            continue
        a, b = np.array([x for x, _ in both]).astype(int), np.array([y for _, y in both]).astype(int)
        for e in range(40):
            if len(set(a[:, e]) | set(b[:, e])) > 1:
                units.append(cohen_kappa_score(a[:, e], b[:, e], weights="quadratic", labels=list(range(8))))
        pooled.append(cohen_kappa_score(a.ravel(), b.ravel(), weights="quadratic", labels=list(range(8))))
    got = pairwise_kappa(ratings)
    assert got["mean"] == pytest.approx(np.mean(units), abs=1e-12)
    assert got["pooled"] == pytest.approx(np.mean(pooled), abs=1e-12) and got["pairs"] == len(pooled)
    human, oracle = [], []
    for r in raters:
        rows = [i for i, item in enumerate(ratings) if r in item and len(item) >= 3]
        if len(rows) < 10:
            continue
        own = np.array([ratings[i][r] for i in rows])
        others = np.array([np.median([v for k, v in ratings[i].items() if k != r], axis=0) for i in rows])
        for e in range(40):
            if np.ptp(others[:, e]) > 0 and np.ptp(own[:, e]) > 0:
                human.append(spearmanr(own[:, e], others[:, e])[0])
                if np.ptp(truth[rows, e]) > 0:
                    oracle.append(spearmanr(truth[rows, e], others[:, e])[0])
    rho = loo_spearman(ratings, truth)
    assert rho["rater"] == pytest.approx(np.mean(human), abs=1e-12)
    assert rho["truth"] == pytest.approx(np.mean(oracle), abs=1e-12)


def test_binary_and_weak_protocols():
    cfg, panel = SynthFaceConfig(), RaterPanel.create(0)
    answers, nonzero, weak_rho = [], [], []
    weak, truth = [], []
    for i in range(300):
        meta = make_sample(cfg, panel, "binary", i, render=False)["json"]
        answers += [v for a in meta["binary"].values() for v in a.values()]
        meta = make_sample(cfg, panel, "big", i, render=False)["json"]
        weak.append(meta["weak"])
        truth.append(meta["truth"])
        nonzero.append(sum(v > 0 for v in meta["weak"]))
    assert 0.3 < np.mean(answers) < 0.7  # a mix of present and absent queried emotions
    assert 1.5 < np.mean(nonzero) <= 5
    weak, truth = np.array(weak), np.array(truth)
    weak_rho = [spearmanr(weak[:, e], truth[:, e])[0] for e in range(40)]
    assert np.nanmean(weak_rho) > 0.3  # weak labels are noisy but informative


def test_latents_are_sparse_and_correlated_within_family():
    rng = np.random.default_rng(0)
    latents = np.array([sample_latent(rng) for _ in range(2000)])
    dominant = (latents >= 2.0).sum(1)
    assert 0.04 < (dominant == 0).mean() < 0.15  # near-neutral faces
    assert dominant.max() <= 3 and 1.5 < dominant[dominant > 0].mean() < 2.2
    assert 1 <= np.median((latents > 0).sum(1)) <= 6
    family = np.array([e.family for e in EMOTIONS])
    same = []
    for row in latents:
        strong = np.flatnonzero(row >= 2.0)
        same += [family[a] == family[b] for a, b in combinations(strong, 2)]
    chance = sum((family == f).sum() * ((family == f).sum() - 1) for f in set(family)) / (40 * 39)
    assert np.mean(same) > 2 * chance


# --- visual signatures and learnability ----------------------------------------------------------------------


def test_emotion_signatures_are_distinct_and_related_ones_closer():
    table = signature_matrix()
    assert np.linalg.matrix_rank(table) == 40  # the 40 directions are linearly independent
    dist = np.linalg.norm(table[:, None] - table[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    assert dist.min() > 0.5, NAMES[np.unravel_index(dist.argmin(), dist.shape)[0]]
    shame, embarrassment, amusement = (emotion_index(n) for n in ("Shame", "Embarrassment", "Amusement"))
    assert dist[shame, embarrassment] < dist[shame, amusement]
    assert dist[shame, embarrassment] < np.median(dist[shame][np.isfinite(dist[shame])])


def test_every_emotion_is_visible_and_distinct_at_64px():
    """Same person and scene; each emotion at intensity 6 must change many pixels, and differently."""
    rng = np.random.default_rng(0)
    person, scene = sample_person(rng), sample_scene(rng)
    images = []
    for e in range(41):  # 40 emotions, then neutral
        latent = np.zeros(40)
        if e < 40:
            latent[e] = 6.0
        images.append(render_face(actions_from_latent(latent), person, scene, 64).astype(int))
    images = np.array(images)
    changed = (np.abs(images[:40] - images[40]).max(-1) > 25).sum((1, 2))  # pixels that visibly change
    assert changed.min() >= 30, NAMES[changed.argmin()]
    pair = (np.abs(images[:40, None] - images[None, :40]).max(-1) > 25).sum((2, 3))
    np.fill_diagonal(pair, 10**6)
    assert pair.min() >= 15, [NAMES[i] for i in np.unravel_index(pair.argmin(), pair.shape)]
    shame, embarrassment, amusement = (emotion_index(n) for n in ("Shame", "Embarrassment", "Amusement"))
    assert pair[shame, embarrassment] < pair[shame, amusement]


def _random_conv_features(images: np.ndarray, rng: np.random.Generator, filters: int = 128, grid: int = 7):
    """Translation-tolerant features: random 5x5 colour filters, ReLU, average-pooled on a coarse grid."""
    from numpy.lib.stride_tricks import sliding_window_view

    patches = sliding_window_view(images, (5, 5), axis=(1, 2))  # n, 28, 28, 3, 5, 5
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(len(images), 28, 28, 75)
    patches = patches - patches.mean(-1, keepdims=True)
    maps = np.maximum(patches @ rng.normal(size=(75, filters)).astype(np.float32), 0)
    pooled = maps.reshape(len(images), grid, 28 // grid, grid, 28 // grid, filters).mean((2, 4))
    return np.sqrt(pooled.reshape(len(images), -1))


def test_images_carry_the_latent_learnably():
    """Ridge regression on simple image features recovers the hidden latent on held-out images."""
    from sklearn.linear_model import Ridge

    cfg, panel = SynthFaceConfig(image_size=64), RaterPanel.create(0)
    images, truth = [], []
    for i in range(1500):
        sample = make_sample(cfg, panel, "big", i)
        image = Image.open(io.BytesIO(sample["jpg"])).resize((32, 32), Image.BILINEAR)
        images.append(np.asarray(image, dtype=np.float32) / 255)
        truth.append(sample["json"]["truth"])
    features, truth = _random_conv_features(np.array(images), np.random.default_rng(1)), np.array(truth)
    train, test = slice(0, 1200), slice(1200, None)

    def held_out_rho(targets):
        pred = Ridge(alpha=10.0).fit(features[train], targets[train]).predict(features[test])
        return np.array([spearmanr(pred[:, e], truth[test, e])[0] for e in range(40)])

    rho = held_out_rho(truth)
    assert np.mean(rho) > 0.12 and (rho > 0.05).sum() >= 28, np.round(rho, 2)
    shuffled = held_out_rho(truth[np.random.default_rng(2).permutation(len(truth))])
    assert abs(np.mean(shuffled)) < 0.05  # the same pipeline learns nothing from unrelated targets
