"""Training end to end on tiny shards: fast_dev_run, a full tiny run with report + export, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import emozoo
from emozoo.config import load_config
from emozoo.recipes import run_experiment
from tests.conftest import tiny_run_overrides


def _cfg(root, tmp_path, *extra):
    return load_config("smoke", [*tiny_run_overrides(root, tmp_path), *extra])


def test_fast_dev_run(tiny_data, tmp_path):
    summary = run_experiment(_cfg(tiny_data, tmp_path, "trainer.fast_dev_run=true"))
    assert "report" not in summary  # fast_dev_run stops before evaluation


def test_tiny_run_writes_report_checkpoints_and_model(tiny_data, tmp_path):
    # With the progress bar on, as `python train.py` runs (Lightning then adds its own callback).
    summary = run_experiment(_cfg(tiny_data, tmp_path, "trainer.enable_progress_bar=true"))
    assert all(v is None or v > 0 for v in summary["train_images_per_second"].values())
    report = json.loads(Path(summary["report"]).read_text())
    for key in ("model", "random", "raters"):
        assert key in report
    assert isinstance(report["model"]["mean_spearman"], float)
    assert isinstance(report["raters"]["loo_mean_spearman"], float)
    assert len(report["model"]["per_emotion_spearman"]) == 40
    run_dir = tmp_path / "runs" / "smoke" / "version_0"
    for name in ("report.md", "spearman_per_emotion.png", "kappa_by_group.png", "config.yaml"):
        assert (run_dir / name).is_file()
    events = list(run_dir.rglob("events.out.tfevents.*"))  # TensorBoard
    assert events and all(e.stat().st_size > 0 for e in events), events
    ckpts = tmp_path / "ckpt" / "smoke" / "version_0"
    for stage in ("pretrain-big", "finetune-binary"):
        assert (ckpts / stage / "final.ckpt").is_file() and (ckpts / stage / "last.ckpt").is_file()
    model = emozoo.load_model(summary["model_dir"])
    assert json.loads((ckpts / "model" / "config.json").read_text())["metrics"]["mean_spearman"] == pytest.approx(
        report["model"]["mean_spearman"]
    )
    out = model(torch.randn(2, *model.data_config.input_size))
    assert out["intensity"].shape == (2, 40)


def test_shards_cli_defaults_are_the_demo_configs():
    """`emozoo shards synthface` with no options writes the set `python train.py` generates and accepts as is."""
    import inspect
    from dataclasses import asdict

    from emozoo.cli import build_parser
    from emozoo.synthface.generate import generate_synthface

    argv = ["shards", "synthface"]
    args = vars(build_parser(argv).parse_args(argv))
    cfg = load_config()  # the demo: dataclass defaults + configs/default.yaml, as ensure_data reads them
    generator = {k: p.default for k, p in inspect.signature(generate_synthface).parameters.items()}
    expected = {**generator, **asdict(cfg.data.synthface)}
    params = ("num_big", "num_binary", "num_hq_val", "num_hq_test", "image_size", "seed", "shard_size")
    params += ("image_format", "num_raters", "raters_per_image")
    assert {k: args[k] for k in params} == {k: expected[k] for k in params}
    assert args["out"] == cfg.data.root


@pytest.mark.slow
def test_same_seed_same_result_with_loader_workers(tiny_data, tmp_path):
    """Shards, shuffle, init and loader interleaving are all seeded: a rerun reproduces the report exactly."""
    reports = []
    for run in ("a", "b"):
        cfg = _cfg(tiny_data, tmp_path / run, "data.num_workers=2", "trainer.precision=32-true")
        reports.append(json.loads(Path(run_experiment(cfg)["report"]).read_text()))
    assert reports[0]["model"]["per_emotion_spearman"] == reports[1]["model"]["per_emotion_spearman"]
