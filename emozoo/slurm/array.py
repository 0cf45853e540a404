"""A backbone comparison on a cluster: one job array (a task per backbone) and a leaderboard job after it.

Everything a task needs is in ``<out>/plan.json``, written before submission; the array script runs
``python -m emozoo.slurm.task run <out>/plan.json`` under ``srun`` (every rank reads ``SLURM_ARRAY_TASK_ID``), and
the leaderboard job (``--dependency=afterany:<array>``, so it runs whatever the tasks' fate) runs
``python -m emozoo.slurm.task leaderboard <out>/plan.json``. Each task's rank 0 writes
``<out>/results/<backbone>.json``: its leaderboard row when it finished, the error and log when it failed.

The output folder and the runs' version are named by a hash of the experiment, its overrides and the backbones,
so running the same command again finds them: backbones with a finished result are skipped, the others start
again (``resume=auto`` continues from their newest checkpoint), and the leaderboard is written again in full.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emozoo.compare import backbone_configs
from emozoo.errors import EmozooError
from emozoo.slurm.render import render_job
from emozoo.slurm.results import ComparePlan, finished, read_plan, write_plan
from emozoo.slurm.settings import Launch, launch_overrides
from emozoo.slurm.submit import Job, Submitted, queued, submit_jobs

__all__ = ["ComparePlan", "CompareSubmission", "compare_jobs", "plan_compare", "submit_compare"]


@dataclass
class CompareSubmission:
    plan: ComparePlan
    plan_path: Path
    skipped: list[str]  # backbones with a finished result
    jobs: list[Submitted]  # empty when every backbone has finished
    leaderboard: dict[str, Any] | None = None  # written at once when every backbone had finished


def _comparison_id(experiment: str | None, overrides: list[str], backbones: list[str]) -> str:
    key = json.dumps([experiment, overrides, backbones])
    return hashlib.sha1(key.encode()).hexdigest()[:8]


def plan_compare(launch: Launch, backbones: list[str], out_dir: str | Path | None = None) -> ComparePlan:
    """The comparison of ``backbones`` under ``launch`` (see ``resolve_launch``); every config validated here."""
    cid = _comparison_id(launch.experiment, launch.overrides, backbones)
    base = launch.config
    c = launch.cluster
    plan = ComparePlan(
        backbones=list(backbones),
        experiment=launch.experiment,
        overrides=list(launch.overrides),
        launch=launch_overrides(c),
        name=base.name,
        version=f"cmp-{cid}",
        out_dir=str(Path(out_dir or Path(base.run_dir) / "compare" / f"{base.name}-{cid}").resolve()),
        job_name=f"{c.job_name}-cmp-{cid}",
        log_dir=str(Path(c.log_dir).resolve()),
    )
    backbone_configs(backbones, plan.experiment, plan.overrides, plan.run_overrides())
    return plan


def compare_jobs(
    plan: ComparePlan, plan_path: Path, launch: Launch, todo: list[int], max_parallel: int | None
) -> list[Job]:
    """The array over the backbone indices ``todo`` (``%max_parallel`` at once) and the leaderboard job after it."""
    c = launch.cluster
    workdir = Path.cwd().resolve()
    spec = ",".join(map(str, todo)) + (f"%{max_parallel}" if max_parallel else "")
    task = ["-m", "emozoo.slurm.task", "run", str(plan_path)]
    board = f"{plan.job_name}-leaderboard"
    gather = ["-m", "emozoo.slurm.task", "leaderboard", str(plan_path)]
    return [
        Job(plan.job_name, render_job(c, task, workdir, job_name=plan.job_name, array=spec)),
        Job(board, render_job(c, gather, workdir, job_name=board, light=True), [("afterany", plan.job_name)]),
    ]


def submit_compare(
    launch: Launch,
    backbones: list[str],
    out_dir: str | Path | None = None,
    max_parallel: int | None = None,
    dry_run: bool = False,
) -> CompareSubmission:
    """Plan the comparison, skip finished backbones, and submit the array and the leaderboard job.

    Raises:
        EmozooError: the same comparison still has tasks in the queue (``squeue``), or ``out_dir`` holds a plan
            of another comparison, or sbatch fails.
    """
    if max_parallel is not None and max_parallel < 1:
        raise EmozooError(f"--max-parallel must be >= 1, got {max_parallel}")
    plan = plan_compare(launch, backbones, out_dir)
    plan_path = Path(plan.out_dir) / "plan.json"
    old = read_plan(plan_path) if plan_path.is_file() else None
    if old is not None:
        if (old.experiment, old.overrides, old.backbones) != (plan.experiment, plan.overrides, plan.backbones):
            raise EmozooError(f"{plan_path} is the plan of another comparison; give another --out")
        busy = queued([old.array_job_id] if old.array_job_id else [])
        if busy and not dry_run:
            raise EmozooError(
                f"this comparison's array {old.array_job_id} is still queued ({len(busy)} tasks, "
                f"squeue -j {old.array_job_id}); wait for it, or scancel {old.array_job_id} first"
            )
    done = [i for i, b in enumerate(plan.backbones) if finished(Path(plan.out_dir), b)]
    todo = [i for i in range(len(plan.backbones)) if i not in done]
    skipped = [plan.backbones[i] for i in done]
    if not todo:  # nothing left to train: the leaderboard is written here and now, no job needed
        if dry_run:
            return CompareSubmission(plan, plan_path, skipped, [])
        if old is not None:
            plan.array_job_id, plan.array_tasks = old.array_job_id, old.array_tasks  # the last run's logs
        write_plan(plan_path, plan)
        from emozoo.slurm.task import gather_leaderboard

        return CompareSubmission(plan, plan_path, skipped, [], gather_leaderboard(plan_path))
    array, board = compare_jobs(plan, plan_path, launch, todo, max_parallel)
    scripts = Path(plan.out_dir) / "scripts"
    if not dry_run:
        write_plan(plan_path, plan)  # before sbatch: a task may start at once
    submitted = submit_jobs([array], scripts, dry_run=dry_run)
    if not dry_run:  # the array's id is saved before anything else can fail, so a re-run sees it in squeue
        plan.array_job_id, plan.array_tasks = submitted[0].job_id, todo
        write_plan(plan_path, plan)
    submitted += submit_jobs([board], scripts, dry_run=dry_run, submitted=submitted)
    return CompareSubmission(plan, plan_path, skipped, submitted)
