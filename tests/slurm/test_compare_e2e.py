"""End to end on this machine: a comparison's array tasks run as plain processes through the array script's own
command (with ``SLURM_ARRAY_TASK_ID`` set), then its leaderboard job's command; the leaderboard must hold the same
numbers as a local ``emozoo compare`` of the same backbones."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from emozoo.cli import main
from emozoo.slurm.results import read_plan
from tests.conftest import tiny_run_overrides
from tests.slurm.fakes import install_fakes, sbatch_calls

REPO = Path(__file__).resolve().parents[2]
BACKBONES = "cnn-tiny,vit-tiny"
METRICS = [
    "mean_spearman",
    "spearman_ci",
    "kappa_model_human",
    "kappa_human_human",
    "raters_loo_mean_spearman",
    "random_mean_spearman",
    "alpha_humans",
]


def _recipe(root: Path, out: Path) -> list[str]:
    """The compared recipe, made tiny, with the settings the tasks run under (CPU, one device, DDP) given to both.

    DDP matters for equality: its set-up re-seeds the RNGs (Lightning's ``reset_seed``) after the model is built,
    so a single-device run draws different random numbers from then on.
    """
    return [
        "compare_backbones",
        *tiny_run_overrides(root, out, "32-true"),
        "eval.n_bootstrap=10",
        "backbone.img_size=32",
        "trainer.deterministic=true",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
        "trainer.strategy=ddp",
        "stages=[{name: pre, data: big, targets: [weak], epochs: 1}]",
    ]


def _run(argv: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # four tiny trainings, each in a fresh Python process
def test_array_tasks_and_leaderboard_match_local_compare(tiny_data, tmp_path, monkeypatch):
    install_fakes(tmp_path / "bin", tmp_path / "log", monkeypatch)
    monkeypatch.chdir(REPO)
    sets = ["setup=[]", f"python={sys.executable}", f"log_dir={tmp_path / 'logs'}"]
    argv = ["compare", "--cluster", "default", "--backbones", BACKBONES, "--out", str(tmp_path / "cmp")]
    argv += [a for kv in sets for a in ("--set", kv)] + _recipe(tiny_data, tmp_path / "array")
    assert main(argv) == 0
    array, board = sbatch_calls(tmp_path / "log")
    # trainer.accelerator=cpu and trainer.devices=1 were taken as the cluster's settings: a 1-CPU-task allocation
    assert array["options"]["ntasks-per-node"] == "1" and "gpus-per-node" not in array["options"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    (srun,) = [ln for ln in array["script"].splitlines() if ln.startswith("srun ")]
    task = shlex.split(srun)[1:]
    plan = read_plan(tmp_path / "cmp" / "plan.json")
    for index in plan.array_tasks:
        _run(task, {**env, "SLURM_ARRAY_TASK_ID": str(index)})
    _run(shlex.split(board["script"].strip().splitlines()[-1]), env)
    cluster = json.loads((tmp_path / "cmp" / "leaderboard.json").read_text())

    local_out = tmp_path / "local"
    local = [sys.executable, "-m", "emozoo.cli", "compare", "--backbones", BACKBONES, "--out", str(local_out)]
    _run(local + _recipe(tiny_data, tmp_path / "local"), env)
    here = json.loads((local_out / "leaderboard.json").read_text())

    assert [r["backbone"] for r in cluster] == [r["backbone"] for r in here]
    assert {r["status"] for r in cluster + here} == {"finished"}
    for a, b in zip(cluster, here):
        assert all(a[k] is not None for k in METRICS)
        assert {k: a[k] for k in METRICS} == {k: b[k] for k in METRICS}, a["backbone"]
    md = (tmp_path / "cmp" / "leaderboard.md").read_text()
    assert all(f"| {b} |" in md for b in BACKBONES.split(","))
    assert (tmp_path / "cmp" / "leaderboard.png").stat().st_size > 0
    # The same command again finds both finished: nothing more is submitted.
    assert main(argv) == 0
    assert len(sbatch_calls(tmp_path / "log")) == 2
