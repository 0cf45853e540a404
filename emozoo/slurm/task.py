"""The two entry points a comparison's jobs run: ``python -m emozoo.slurm.task run|leaderboard PLAN``.

``run`` is one array task: under ``srun`` every rank of the task runs it, reads ``SLURM_ARRAY_TASK_ID`` and
trains the backbone at that index of the plan (Lightning's ``SLURMEnvironment`` wires the ranks; rank 0 writes the
result). ``leaderboard`` gathers every backbone's result into the leaderboard, after the array has ended. Run the
same commands on a workstation, with ``SLURM_ARRAY_TASK_ID`` set, to reproduce a task without SLURM.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from emozoo.errors import EmozooError
from emozoo.slurm.results import read_plan, read_result, write_result

__all__ = ["gather_leaderboard", "main", "run_array_task"]


def _task_index(task_id: int | None) -> int:
    if task_id is not None:
        return task_id
    value = os.environ.get("SLURM_ARRAY_TASK_ID")
    if value is None or not value.isdigit():
        raise EmozooError(f"SLURM_ARRAY_TASK_ID={value!r}: run this inside an array task, or set it to an index")
    return int(value)


def _absolute(row: dict[str, Any]) -> dict[str, Any]:
    """Paths in a result are read by other jobs and later commands, which may run from elsewhere."""
    return {k: str(Path(v).resolve()) if k in ("report", "run_dir", "model_dir") and v else v for k, v in row.items()}


def run_array_task(plan_path: str | Path, task_id: int | None = None) -> dict[str, Any]:
    """Train the plan's backbone at ``task_id`` (default: ``$SLURM_ARRAY_TASK_ID``) and write its result.

    Every rank calls this; only global rank 0 writes ``results/<backbone>.json``: the leaderboard row when the run
    finished, ``status: failed`` with the error and the task's log when it raised (then the error is re-raised,
    so the task fails in ``sacct`` too). Returns the row (rank 0) or ``{}`` (other ranks).
    """
    from emozoo.compare import failed_row, summary_row
    from emozoo.config import load_config

    plan = read_plan(plan_path)
    index = _task_index(task_id)
    if not 0 <= index < len(plan.backbones):
        raise EmozooError(f"array task {index}: {plan_path} has only {len(plan.backbones)} backbones")
    backbone = plan.backbones[index]
    out = Path(plan.out_dir)
    rank0 = os.environ.get("SLURM_PROCID", "0") == "0"
    array_id = os.environ.get("SLURM_ARRAY_JOB_ID")
    log = f"{plan.log_dir}/{plan.job_name}-{array_id}_{index}.out" if array_id else None
    print(f"[emozoo] comparison task {index}: {backbone} ({plan.version})", flush=True)
    try:
        from emozoo.recipes import run_experiment

        summary = run_experiment(load_config(plan.experiment, plan.task_overrides(index)))
    except BaseException as err:  # KeyboardInterrupt and SystemExit too: a task that stops is not silently missing
        if rank0:
            message = "".join(traceback.format_exception_only(type(err), err)).strip().splitlines()[-1]
            write_result(out, failed_row(backbone, "failed", log, message[:500]))
        raise
    if "report" not in summary:  # not rank 0: the report and the row are rank 0's
        return {}
    row = _absolute({**summary_row(backbone, summary), "log": log})
    write_result(out, row)
    return row


def gather_leaderboard(plan_path: str | Path) -> dict[str, Any]:
    """Every backbone's row (finished, failed, or missing with its expected log) into the leaderboard files.

    Returns:
        ``{"rows": [...], "files": [json, md, png]}``, the same as a local ``compare_backbones``.
    """
    from emozoo.compare import failed_row, write_leaderboard

    plan = read_plan(plan_path)
    out = Path(plan.out_dir)
    rows = []
    for i, backbone in enumerate(plan.backbones):
        log = plan.log(i) if i in plan.array_tasks else None
        try:
            row = read_result(out, backbone)
        except EmozooError as err:
            row = failed_row(backbone, "failed", log, str(err))
        if row is None:  # killed, out of time or memory, or never started: no Python left to say so
            row = failed_row(backbone, "missing", log, "no result: the task did not finish (see its log, sacct)")
        rows.append(row)
    return {"rows": rows, "files": write_leaderboard(rows, out)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emozoo.slurm.task", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["run", "leaderboard"])
    parser.add_argument("plan", help="the comparison's plan.json")
    parser.add_argument("--task-id", type=int, default=None, help="default: $SLURM_ARRAY_TASK_ID")
    args = parser.parse_args(argv)
    try:
        if args.step == "run":
            run_array_task(args.plan, args.task_id)
        else:
            from emozoo.compare import leaderboard_markdown

            result = gather_leaderboard(args.plan)
            print(leaderboard_markdown(result["rows"]))
            print("[emozoo] leaderboard: " + ", ".join(result["files"]))
    except EmozooError as err:
        print(f"emozoo task: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
