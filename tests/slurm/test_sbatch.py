"""Rendering and submitting sbatch scripts, and SLURM rank detection, with fake sbatch/srun/scontrol."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
from lightning.fabric.plugins.environments import SLURMEnvironment

from emozoo.cli import main
from emozoo.errors import ConfigError
from emozoo.slurm import load_cluster, render_sbatch
from tests.slurm.fakes import install_fakes, sbatch_calls, sbatch_options

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cluster", sorted(p.stem for p in (REPO / "configs" / "cluster").glob("*.yaml")))
def test_rendered_script_for_every_cluster(cluster):
    c = load_cluster(cluster, ["nodes=3"])
    script = render_sbatch(c, ["configs/experiment/smoke.yaml", "optim.lr=0.1"], workdir="/work dir")
    opts = sbatch_options(script)
    assert opts["nodes"] == "3"
    assert opts["ntasks-per-node"] == str(c.gpus_per_node)
    assert opts["gpus-per-node"].endswith(str(c.gpus_per_node))
    assert opts["signal"] == "SIGUSR1@90"  # not B:SIGUSR1, which would only reach the batch shell
    assert "requeue" in opts and opts["output"].startswith(c.log_dir) and "%j" in opts["error"]
    srun = [ln for ln in script.splitlines() if ln.startswith("srun ")]
    assert len(srun) == 1
    assert srun[0].startswith("srun python train.py configs/experiment/smoke.yaml optim.lr=0.1")
    for arg in ("trainer.num_nodes=3", f"trainer.devices={c.gpus_per_node}", "trainer.strategy=ddp", "resume=auto"):
        assert arg in srun[0]
    assert "cd '/work dir'" in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)  # valid shell


def test_cluster_errors_suggest():
    with pytest.raises(ConfigError, match="Did you mean 'gpus_per_node'"):
        load_cluster("default", ["gpu_per_node=4"])
    with pytest.raises(ConfigError, match="cluster config not found.*shipped: default"):
        load_cluster("nope")


def test_submit_through_fake_sbatch(tmp_path, monkeypatch, capsys):
    install_fakes(tmp_path / "bin", tmp_path / "log", monkeypatch)
    monkeypatch.chdir(REPO)
    out = tmp_path / "scripts"
    assert main(["slurm", "--cluster", "default", "--nodes", "2", "--out", str(out), "optim.lr=0.01"]) == 0
    printed = capsys.readouterr().out
    (call,) = sbatch_calls(tmp_path / "log")
    assert call["args"] == ["--parsable", str(out / "emozoo.sbatch")]
    assert f"job {call['id']}" in printed and "squeue --me --name=emozoo" in printed
    assert call["options"]["nodes"] == "2"
    assert call["script"] == (out / "emozoo.sbatch").read_text()


def test_sbatch_output_is_parsed(tmp_path, monkeypatch):
    from emozoo.errors import EmozooError
    from emozoo.slurm import sbatch

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "sbatch"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    script = tmp_path / "x.sbatch"
    script.write_text("#!/bin/bash\n")
    for printed, expected in (("777", "777"), ("778;juwels", "778"), ("warning: x\n779", "779")):
        fake.write_text(f"#!/bin/bash\nprintf '{printed}\\n'\n")
        fake.chmod(0o755)
        assert sbatch(script) == expected
    fake.write_text("#!/bin/bash\necho 'Submitted batch job 5'\n")  # no --parsable output: refuse to guess
    with pytest.raises(EmozooError, match="expected a job id from --parsable"):
        sbatch(script)


def test_bad_training_args_fail_before_submission(tmp_path, monkeypatch, capsys):
    install_fakes(tmp_path / "bin", tmp_path / "log", monkeypatch)
    monkeypatch.chdir(REPO)
    assert main(["slurm", "--dry-run", "optim.lrr=0.1"]) == 2
    assert "Did you mean 'optim.lr'" in capsys.readouterr().err
    assert not (tmp_path / "log" / "sbatch.calls").exists()


def test_slurm_environment_gives_the_ranks(monkeypatch):
    env = {
        "SLURM_NTASKS": "4",
        "SLURM_NTASKS_PER_NODE": "2",
        "SLURM_NNODES": "2",
        "SLURM_PROCID": "3",
        "SLURM_LOCALID": "1",
        "SLURM_NODEID": "1",
        "SLURM_NODELIST": "node[07-08]",
        "SLURM_JOB_ID": "98765",
        "SLURM_JOB_NAME": "emozoo",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    trainer = L.Trainer(accelerator="cpu", devices=2, num_nodes=2, strategy="ddp", logger=False)
    cenv = trainer.strategy.cluster_environment
    assert isinstance(cenv, SLURMEnvironment)
    assert (trainer.global_rank, trainer.local_rank, trainer.node_rank, trainer.world_size) == (3, 1, 1, 4)
    assert cenv.main_address == "node07" and cenv.main_port == 15000 + 8765


@pytest.mark.slow
def test_script_runs_two_simulated_nodes(tiny_data, tmp_path, monkeypatch):
    """sbatch -> bash script -> srun with 2 'nodes' x 1 task -> Lightning DDP (gloo) over loopback."""
    install_fakes(tmp_path / "bin", tmp_path / "log", monkeypatch)
    monkeypatch.setenv("FAKE_SBATCH_RUN", "1")
    monkeypatch.setenv("FAKE_NODES", "2")
    monkeypatch.setenv("FAKE_TASKS_PER_NODE", "1")
    monkeypatch.setenv("MASTER_PORT", str(29500 + os.getpid() % 1000))
    c = load_cluster(
        "default",
        [
            "nodes=2",
            "gpus_per_node=1",
            "accelerator=cpu",
            "setup=[]",
            f"python={sys.executable}",
            f"log_dir={tmp_path / 'slurm-logs'}",
        ],
    )
    args = [
        "configs/experiment/smoke.yaml",
        f"data.root={tiny_data}",
        "data.synthface=null",
        "data.num_workers=0",
        "data.batch_size=4",
        "data.eval_batch_size=4",
        f"run_dir={tmp_path / 'runs'}",
        f"checkpoint_dir={tmp_path / 'ckpt'}",
        "trainer.enable_progress_bar=false",
        "eval.n_bootstrap=10",
        "trainer.precision=32-true",
        "version=job",
    ]
    script = tmp_path / "job.sbatch"
    script.write_text(render_sbatch(c, args, workdir=REPO))
    proc = subprocess.run(["sbatch", str(script)], capture_output=True, text=True, timeout=600)
    logs = "\n".join(p.read_text()[-3000:] for p in sorted((tmp_path / "log").glob("task-*.log")))
    assert proc.returncode == 0, logs
    assert "trainer.num_nodes=2" in (tmp_path / "log" / "srun.calls").read_text()
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in logs
    assert (tmp_path / "runs" / "smoke" / "job" / "report.json").is_file()


def test_times_stay_times(tmp_path):
    """YAML 1.1 reads 10:00:00 as the base-60 number 36000: an override keeps the text, a file must quote it."""
    c = load_cluster("default", ["time=10:00:00", "stage_time.eval=1-02:00:00", "leaderboard_time=30"])
    assert (c.time, c.stage_time, c.leaderboard_time) == ("10:00:00", {"eval": "1-02:00:00"}, "30")
    bad = tmp_path / "c.yaml"
    bad.write_text("time: 10:00:00\n")
    with pytest.raises(ConfigError, match='time: 36000 is a number to YAML; quote the time, e.g. time: "10:00:00"'):
        load_cluster(str(bad))
