"""``emozoo slurm --chain``: a job per stage and an eval job, linked with afterok, each from the previous export."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from emozoo.cli import main
from emozoo.config import load_config
from tests.conftest import tiny_run_overrides
from tests.slurm.fakes import install_fakes, sbatch_calls

REPO = Path(__file__).resolve().parents[2]
EXP = "configs/experiment/compare_backbones.yaml"


def _args(script: str) -> dict[str, str]:
    (line,) = [ln for ln in script.splitlines() if ln.startswith("srun ")]
    return dict(a.split("=", 1) for a in shlex.split(line)[3:] if "=" in a)  # last value of each key wins


def test_chain_dependencies_times_and_init_from(tmp_path, monkeypatch, capsys):
    install_fakes(tmp_path / "bin", tmp_path / "log", monkeypatch)
    monkeypatch.chdir(REPO)
    argv = ["slurm", "--chain", "--cluster", "default", "--out", str(tmp_path / "scripts")]
    argv += ["--set", "stage_time.pretrain-big=10:00:00", "--set", "stage_time.eval=00:20:00", EXP, "optim.lr=0.01"]
    assert main(argv) == 0
    calls = sbatch_calls(tmp_path / "log")
    stages = [s.name for s in load_config(EXP).stages]
    assert [c["options"]["job-name"] for c in calls] == [f"emozoo-compare-{s}" for s in [*stages, "eval"]]
    assert [c["dependency"] for c in calls] == [None, f"afterok:{calls[0]['id']}", f"afterok:{calls[1]['id']}"]
    assert [c["options"]["time"] for c in calls] == ["10:00:00", "24:00:00", "00:20:00"]
    args = [_args(c["script"]) for c in calls]
    for a, c in zip(args, calls):
        assert c["options"]["signal"] == "SIGUSR1@90" and "requeue" in c["options"]
        assert a["resume"] == "auto" and a["optim.lr"] == "0.01"
        subprocess.run(["bash", "-n"], input=c["script"], text=True, check=True)
    # Each job runs one stage of the experiment, as the experiment defines it, and starts from the export of the
    # job before: the folder run_experiment writes for that job's name and version.
    for i, stage in enumerate(load_config(EXP).stages):
        assert load_config(EXP, [f"stages={args[i]['stages']}"]).stages == [stage]
    assert args[2]["stages"] == "[]"
    # Only the eval job tests: the stage jobs train and export (one test pass per chain, not one per stage).
    assert [a.get("eval.data") for a in args] == ["null", "null", None]
    assert "init_from" not in args[0]
    for prev, a in zip(args, args[1:]):
        assert a["init_from"] == f"checkpoints/{prev['name']}/{prev['version']}/model"
    assert len({a["version"] for a in args}) == 1
    out = capsys.readouterr().out
    assert "squeue --me --name=emozoo-compare-pretrain-big,emozoo-compare-finetune-binary,emozoo-compare-eval" in out


def test_chain_dry_run_names_dependencies(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(["slurm", "--chain", "--dry-run", EXP]) == 0
    out = capsys.readouterr().out
    assert out.count("#!/bin/bash") == 3
    assert "--dependency=afterok:<emozoo-compare-pretrain-big>" in out
    assert "--dependency=afterok:<emozoo-compare-finetune-binary>" in out


def test_stage_time_for_an_unknown_stage_is_refused(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(["slurm", "--chain", "--dry-run", "--set", "stage_time.pretrain=1:00:00", EXP]) == 2
    assert "stage_time.pretrain: no such stage" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(900)  # three jobs, each a fresh Python process
def test_chained_jobs_hand_over_the_exported_model(tiny_data, tmp_path, monkeypatch):
    """The fake sbatch runs each job at submission, in order: stage 2 and eval must load the export before them."""
    from safetensors.torch import load_file

    install_fakes(tmp_path / "bin", tmp_path / "log", monkeypatch)
    monkeypatch.setenv("FAKE_SBATCH_RUN", "1")
    monkeypatch.chdir(REPO)
    cluster = ["gpus_per_node=1", "accelerator=cpu", "setup=[]", f"python={sys.executable}"]
    cluster += [f"log_dir={tmp_path / 'logs'}"]
    stages = "[{name: pre, data: big, targets: [weak]}, {name: fine, data: binary, targets: [binary], freeze: all}]"
    overrides = [*tiny_run_overrides(tiny_data, tmp_path, "32-true"), "eval.n_bootstrap=10", f"stages={stages}"]
    argv = ["slurm", "--chain", "--out", str(tmp_path / "scripts")]
    argv += [a for kv in cluster for a in ("--set", kv)] + ["configs/experiment/smoke.yaml", "version=v", *overrides]
    code = main(argv)
    logs = "\n".join(p.read_text()[-2000:] for p in sorted((tmp_path / "log").glob("*.log")))
    assert code == 0, logs
    ckpt = tmp_path / "ckpt"
    pre, fine, ev = (
        load_file(ckpt / f"smoke-{s}" / "v" / "model" / "model.safetensors") for s in ("pre", "fine", "eval")
    )
    # BatchNorm's running statistics move in training mode even in a frozen backbone; its parameters do not.
    stats = ("running_mean", "running_var", "num_batches_tracked")
    backbone = [k for k in pre if k.startswith("backbone.") and not k.endswith(stats)]
    assert backbone
    # "fine" froze the backbone, so it kept exactly the parameters "pre" exported; eval changed nothing at all.
    assert all(torch.equal(pre[k], fine[k]) for k in backbone)
    assert any(not torch.equal(pre[k], fine[k]) for k in pre if k.startswith("head."))
    assert all(torch.equal(fine[k], ev[k]) for k in fine)
    assert (tmp_path / "runs" / "smoke-eval" / "v" / "report.json").is_file()
    for stage in ("pre", "fine"):  # trained and exported, never tested
        run = tmp_path / "runs" / f"smoke-{stage}" / "v"
        assert not (run / "report.json").exists() and not (run / "test").exists()
        assert "mean_spearman" not in json.loads((run / "summary.json").read_text())
