"""A comparison on a cluster, against the fake sbatch/squeue: the array and its throttle, the leaderboard job's
dependency, idempotent re-submission, and a leaderboard that shows failed and missing backbones."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from emozoo.cli import main
from emozoo.compare import summary_row
from emozoo.slurm.results import read_plan, write_result
from emozoo.slurm.task import gather_leaderboard
from tests.slurm.fakes import install_fakes, sbatch_calls

REPO = Path(__file__).resolve().parents[2]
BACKBONES = ["cnn-tiny", "vit-tiny", "vit-b16"]


@pytest.fixture
def slurm(tmp_path, monkeypatch):
    install_fakes(tmp_path / "bin", tmp_path / "log", monkeypatch)
    monkeypatch.chdir(REPO)
    return tmp_path / "log"


def _compare(tmp_path: Path, *extra: str, backbones: list[str] = BACKBONES) -> list[str]:
    return [
        "compare",
        "--cluster",
        "default",
        "--nodes",
        "2",
        "--set",
        f"log_dir={tmp_path / 'logs'}",
        "--backbones",
        ",".join(backbones),
        "--out",
        str(tmp_path / "cmp"),
        *extra,
        "configs/experiment/compare_backbones.yaml",
        f"run_dir={tmp_path / 'runs'}",
    ]


def _finish(out: Path, backbone: str, value: float) -> dict:
    """A finished result as a task writes it, with a report file that exists."""
    report = out / "reports" / f"{backbone}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("{}")
    summary = {"mean_spearman": value, "spearman_ci": [value - 0.1, value + 0.1], "report": str(report), "seconds": 3}
    row = summary_row(backbone, {**summary, "train_images_per_second": {"pretrain": 100.0}})
    write_result(out, row)
    return row


def _srun(script: str) -> list[str]:
    (line,) = [ln for ln in script.splitlines() if ln.startswith("srun ")]
    return shlex.split(line)[1:]


def test_array_throttle_and_leaderboard_dependency(slurm, tmp_path, capsys):
    assert main(_compare(tmp_path, "--max-parallel", "2")) == 0
    printed = capsys.readouterr().out
    array, board = sbatch_calls(slurm)
    assert array["options"]["array"] == "0,1,2%2"
    assert array["dependency"] is None and board["dependency"] == f"afterany:{array['id']}"
    opts = array["options"]
    assert opts["signal"] == "SIGUSR1@90" and "requeue" in opts and opts["nodes"] == "2"
    assert opts["output"].endswith("%x-%A_%a.out")  # one log per task: <job>-<array id>_<index>.out
    assert "array" not in board["options"] and "gpus-per-node" not in board["options"]
    for call in (array, board):
        subprocess.run(["bash", "-n"], input=call["script"], text=True, check=True)
    plan_path = tmp_path / "cmp" / "plan.json"
    assert _srun(array["script"])[1:] == ["-m", "emozoo.slurm.task", "run", str(plan_path)]
    assert board["script"].splitlines()[-1].endswith(f"-m emozoo.slurm.task leaderboard {plan_path}")
    plan = read_plan(plan_path)
    assert (plan.array_job_id, plan.array_tasks, plan.backbones) == (array["id"], [0, 1, 2], BACKBONES)
    task = plan.task_overrides(1)
    for arg in ("backbone=vit-tiny", "trainer.num_nodes=2", "trainer.devices=8", "trainer.strategy=ddp", "resume=auto"):
        assert arg in task
    names = f"{plan.job_name},{plan.job_name}-leaderboard"
    assert f"squeue --me --name={names}" in printed and array["options"]["job-name"] == plan.job_name


def test_dry_run_prints_every_script_and_submits_nothing(slurm, tmp_path, capsys):
    assert main(_compare(tmp_path, "--dry-run")) == 0
    out = capsys.readouterr().out
    assert out.count("#!/bin/bash") == 2
    assert "--dependency=afterany:<emozoo-cmp-" in out and "#SBATCH --array=0,1,2\n" in out
    assert not (slurm / "sbatch.calls").exists() and not (tmp_path / "cmp" / "plan.json").exists()


def test_bad_backbone_fails_before_submission(slurm, tmp_path, capsys):
    assert main(_compare(tmp_path, backbones=["cnn-tiny", "vit-tinyy"])) == 2
    assert "vit-tiny" in capsys.readouterr().err  # the closest registered name
    assert not (slurm / "sbatch.calls").exists()


def test_leaderboard_shows_failed_and_missing_backbones(slurm, tmp_path):
    assert main(_compare(tmp_path)) == 0
    out = tmp_path / "cmp"
    plan = read_plan(out / "plan.json")
    finished = _finish(out, "vit-b16", 0.25)
    failed_log = f"{plan.log_dir}/{plan.job_name}-{plan.array_job_id}_0.out"
    write_result(out, {"backbone": "cnn-tiny", "status": "failed", "log": failed_log, "error": "RuntimeError: boom"})
    # vit-tiny (index 1) wrote nothing: killed, out of memory or never started
    result = gather_leaderboard(out / "plan.json")
    rows = {r["backbone"]: r for r in json.loads((out / "leaderboard.json").read_text())}
    assert rows["vit-b16"] == finished
    assert rows["cnn-tiny"]["status"] == "failed" and rows["cnn-tiny"]["log"] == failed_log
    assert rows["vit-tiny"]["status"] == "missing"
    assert rows["vit-tiny"]["log"] == f"{plan.log_dir}/{plan.job_name}-{plan.array_job_id}_1.out"
    assert [r["backbone"] for r in result["rows"]][0] == "vit-b16"  # finished first
    md = (out / "leaderboard.md").read_text()
    assert "| vit-b16 | 0.2500 |" in md
    assert f"- **cnn-tiny**: failed, log `{failed_log}`: RuntimeError: boom" in md
    assert f"- **vit-tiny**: missing, log `{rows['vit-tiny']['log']}`" in md
    assert (out / "leaderboard.png").stat().st_size > 0


def test_a_broken_result_file_is_a_failed_row_naming_the_file(slurm, tmp_path):
    assert main(_compare(tmp_path)) == 0
    out = tmp_path / "cmp"
    (out / "results").mkdir(exist_ok=True)
    (out / "results" / "vit-tiny.json").write_text(
        '{"backbone": "vit-tiny", "status": "finished", "mean_spearman": "x"}'
    )
    rows = {r["backbone"]: r for r in gather_leaderboard(out / "plan.json")["rows"]}
    assert rows["vit-tiny"]["status"] == "failed" and "vit-tiny.json: key 'mean_spearman'" in rows["vit-tiny"]["error"]


def test_resubmission_skips_finished_and_completes_the_leaderboard(slurm, tmp_path, capsys):
    assert main(_compare(tmp_path, "--max-parallel", "1")) == 0
    out = tmp_path / "cmp"
    first = read_plan(out / "plan.json").array_job_id
    _finish(out, "cnn-tiny", 0.3)
    write_result(out, {"backbone": "vit-tiny", "status": "failed", "log": "x.out", "error": "boom"})
    # While the first array is still queued, the same command submits nothing.
    (slurm / "squeue.out").write_text(f"{first}_2\n")
    assert main(_compare(tmp_path, "--max-parallel", "1")) == 2
    assert f"still queued (1 tasks, squeue -j {first})" in capsys.readouterr().err
    assert len(sbatch_calls(slurm)) == 2
    # Once it has left the queue: only the unfinished backbones run again, and the leaderboard waits for them.
    (slurm / "squeue.out").unlink()
    assert main(_compare(tmp_path, "--max-parallel", "1")) == 0
    assert "already finished, skipped: cnn-tiny" in capsys.readouterr().out
    array, board = sbatch_calls(slurm)[2:]
    assert array["options"]["array"] == "1,2%1" and board["dependency"] == f"afterany:{array['id']}"
    plan = read_plan(out / "plan.json")
    assert (plan.array_job_id, plan.array_tasks) == (array["id"], [1, 2])
    # The re-run finishes both; the same command again writes the full leaderboard at once, submitting nothing.
    _finish(out, "vit-tiny", 0.2)
    _finish(out, "vit-b16", 0.1)
    assert main(_compare(tmp_path, "--max-parallel", "1")) == 0
    printed = capsys.readouterr().out
    assert len(sbatch_calls(slurm)) == 4
    rows = json.loads((out / "leaderboard.json").read_text())
    assert [(r["backbone"], r["status"]) for r in rows] == [
        ("cnn-tiny", "finished"),
        ("vit-tiny", "finished"),
        ("vit-b16", "finished"),
    ]
    assert "| cnn-tiny | 0.3000 |" in printed


def test_another_comparison_in_the_same_folder_is_refused(slurm, tmp_path, capsys):
    assert main(_compare(tmp_path)) == 0
    assert main(_compare(tmp_path, backbones=["cnn-tiny"])) == 2
    assert "plan of another comparison; give another --out" in capsys.readouterr().err


@pytest.mark.parametrize("rank", ["0", "1"])
def test_a_failing_task_writes_a_failed_row_with_its_log(slurm, tmp_path, monkeypatch, rank):
    import emozoo.recipes
    from emozoo.slurm.task import run_array_task

    assert main(_compare(tmp_path)) == 0
    plan = read_plan(tmp_path / "cmp" / "plan.json")

    def boom(cfg):
        assert cfg.backbone.name == "vit-b16" and cfg.resume == "auto" and cfg.version == plan.version
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(emozoo.recipes, "run_experiment", boom)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "777")
    monkeypatch.setenv("SLURM_PROCID", rank)
    with pytest.raises(RuntimeError):  # the task still fails, so sacct says so too
        run_array_task(tmp_path / "cmp" / "plan.json")
    result = tmp_path / "cmp" / "results" / "vit-b16.json"
    if rank != "0":  # only rank 0 speaks for the task
        assert not result.exists()
        return
    row = json.loads(result.read_text())
    assert row["status"] == "failed" and row["error"] == "RuntimeError: CUDA out of memory"
    assert row["log"] == f"{tmp_path / 'logs'}/{plan.job_name}-777_2.out"


def test_failed_leaderboard_submission_keeps_the_array_id(slurm, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_SBATCH_FAIL", "-leaderboard.sbatch")
    assert main(_compare(tmp_path)) == 2
    (array,) = sbatch_calls(slurm)
    plan = read_plan(tmp_path / "cmp" / "plan.json")
    err = capsys.readouterr().err
    assert "Invalid account" in err and f"already submitted: {plan.job_name}={array['id']}" in err
    assert plan.array_job_id == array["id"]
    # so the same command, run again while the array is queued, does not submit it twice
    monkeypatch.delenv("FAKE_SBATCH_FAIL")
    (slurm / "squeue.out").write_text(f"{array['id']}_[0-2]\n")
    assert main(_compare(tmp_path)) == 2
    assert len(sbatch_calls(slurm)) == 1


@pytest.mark.parametrize("own", [False, True], ids=["array-partition", "leaderboard_partition"])
def test_the_leaderboard_job_can_run_on_its_own_partition(slurm, tmp_path, own):
    sets = ["--set", "partition=gpu", "--set", "constraint=a100"]
    sets += ["--set", "leaderboard_partition=cpu"] if own else []
    assert main(_compare(tmp_path, *sets)) == 0
    array, board = sbatch_calls(slurm)
    assert (array["options"]["partition"], array["options"]["constraint"]) == ("gpu", "a100")
    if own:  # a CPU partition: the array's GPU constraint would match no node there
        assert board["options"]["partition"] == "cpu" and "constraint" not in board["options"]
    else:
        assert (board["options"]["partition"], board["options"]["constraint"]) == ("gpu", "a100")
