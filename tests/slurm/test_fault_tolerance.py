"""Preemption and crashes: SIGUSR1 -> HPC checkpoint + requeue; SIGKILL mid-epoch -> resume=auto continues."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from emozoo.checkpointing import newest_checkpoint
from tests.slurm.fakes import install_fakes

REPO = Path(__file__).resolve().parents[2]


def _args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(REPO / "train.py"),
        "configs/experiment/smoke.yaml",
        f"data.root={root}",
        "data.synthface=null",
        "data.num_workers=0",
        "data.batch_size=4",
        "data.eval_batch_size=8",
        "data.shuffle_buffer=8",
        f"run_dir={out / 'runs'}",
        f"checkpoint_dir={out / 'ckpt'}",
        "trainer.enable_progress_bar=false",
        "trainer.precision=32-true",
        "trainer.deterministic=true",
        "eval.n_bootstrap=10",
        "version=v",
        "stages=[{name: pretrain, data: big, targets: [weak], epochs: 20}]",
        "trainer.checkpoint_every_n_steps=5",
        *extra,
    ]


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    start = time.time()
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training ended early:\n{proc.stdout.read()[-3000:] if proc.stdout else ''}")
        if time.time() - start > timeout:
            proc.kill()
            raise AssertionError("timed out waiting for training to progress")
        time.sleep(0.2)


def _global_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_auto(tiny_data, tmp_path):
    stage_dir = tmp_path / "killed" / "ckpt" / "smoke" / "v" / "pretrain"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        _args(tiny_data, tmp_path / "killed"),
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # 48 samples / batch 4 = 12 steps per pass, 240 in all: kill early, in the middle of pass 2.
    # Only the newest step checkpoint is kept (save_top_k=1), so wait for any at or past step 15.
    _wait_for(lambda: any(_step(p) >= 15 for p in stage_dir.glob("step-step=*.ckpt")), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _global_step(newest_checkpoint(stage_dir))
    assert 15 <= killed_at < 240
    resumed = subprocess.run(
        _args(tiny_data, tmp_path / "killed", "resume=auto"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"resuming from {stage_dir}" in resumed.stdout
    assert _global_step(stage_dir / "final.ckpt") == 240  # the same max steps as an uninterrupted run
    clean = subprocess.run(
        _args(tiny_data, tmp_path / "clean"), cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert clean.returncode == 0, clean.stderr[-3000:]
    a = json.loads((tmp_path / "killed" / "runs" / "smoke" / "v" / "report.json").read_text())
    b = json.loads((tmp_path / "clean" / "runs" / "smoke" / "v" / "report.json").read_text())
    # Same data, same steps; only the shard order after the restart differs, so the result is close, not equal.
    assert abs(a["model"]["mean_spearman"] - b["model"]["mean_spearman"]) < 0.1
    assert a["raters"] == b["raters"]


@pytest.mark.slow
def test_sigusr1_saves_hpc_checkpoint_and_requeues(tiny_data, tmp_path, monkeypatch):
    install_fakes(tmp_path / "bin", tmp_path / "log", monkeypatch)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SLURM_NTASKS": "1",
        "SLURM_NTASKS_PER_NODE": "1",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_NODELIST": "127.0.0.1",
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NAME": "emozoo-test",
        "SLURM_NNODES": "1",
    }
    stage_dir = tmp_path / "ckpt" / "smoke" / "v" / "pretrain"
    args = _args(tiny_data, tmp_path, "stages.0.epochs=400")  # long enough to be still training when signalled
    proc = subprocess.Popen(args, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _wait_for(lambda: any(_step(p) >= 10 for p in stage_dir.glob("step-step=*.ckpt")), proc)
    proc.send_signal(signal.SIGUSR1)
    _wait_for(
        lambda: (stage_dir / "hpc_ckpt_1.ckpt").is_file() and (tmp_path / "log" / "scontrol.calls").is_file(), proc
    )
    proc.kill()
    proc.wait()
    assert (tmp_path / "log" / "scontrol.calls").read_text().split() == ["requeue", "4242"]
    saved_at = _global_step(stage_dir / "hpc_ckpt_1.ckpt")
    assert saved_at >= 10
    # The requeued job starts again with resume=auto and continues from the HPC checkpoint.
    restart = time.time()
    again = subprocess.Popen(
        args + ["resume=auto"], cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    # Wait for a checkpoint written by the new process (the old one may have left later step files behind),
    # so that it is training, with its SIGUSR1 handler installed, before the second preemption.
    _wait_for(
        lambda: any(_step(p) > saved_at and p.stat().st_mtime > restart for p in stage_dir.glob("step-step=*.ckpt")),
        again,
    )
    again.kill()
    out = again.stdout.read()
    # It resumed from the newest complete checkpoint: the HPC one, or a later step checkpoint that the first
    # process wrote after requeueing (a real job is stopped right after `scontrol requeue`; ours ran on).
    assert f"resuming from {stage_dir}" in out


def test_old_hpc_checkpoints_are_pruned(tmp_path):
    from types import SimpleNamespace

    from emozoo.checkpointing import PruneHPCCheckpoints

    for n in (1, 2, 5):
        (tmp_path / f"hpc_ckpt_{n}.ckpt").write_bytes(b"x")
    (tmp_path / "last.ckpt").write_bytes(b"x")
    PruneHPCCheckpoints(tmp_path).prune(SimpleNamespace(is_global_zero=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hpc_ckpt_5.ckpt", "last.ckpt"]
    (tmp_path / ".hpc_ckpt_6.ckpt.tmp").write_bytes(b"partial")  # an interrupted atomic save is never resumed from
    assert newest_checkpoint(tmp_path).name in {"hpc_ckpt_5.ckpt", "last.ckpt"}


def _step(path: Path) -> int:
    return int(path.stem.split("=")[-1])
