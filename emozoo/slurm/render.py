"""sbatch scripts: the ``#SBATCH`` header from a ``ClusterConfig`` and the body that runs one command.

The script asks for ``--ntasks-per-node`` equal to the GPUs per node, so ``srun`` starts one process per GPU and
Lightning's ``SLURMEnvironment`` reads every rank from SLURM's variables; we write no launcher of our own.
``--signal=SIGUSR1@90`` (not ``B:SIGUSR1``, which would signal only the batch shell) sends SIGUSR1 to every task
90 s before the time limit: Lightning then saves ``hpc_ckpt_<n>.ckpt`` and runs ``scontrol requeue``, and the
requeued job resumes by itself (``resume=auto``). A requeued array task is requeued alone, with its own index.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from emozoo.slurm.cluster import ClusterConfig
from emozoo.slurm.settings import launch_overrides

__all__ = ["log_path", "render_job", "render_sbatch"]


def log_path(cluster: ClusterConfig, job_name: str, job_id: str, task: int | None = None) -> str:
    """Where SLURM writes a job's stdout: ``%x-%j.out``, or ``%x-%A_%a.out`` for an array task."""
    suffix = f"{job_id}_{task}" if task is not None else job_id
    return f"{cluster.log_dir}/{job_name}-{suffix}.out"


def _header(cluster: ClusterConfig, job_name: str, time: str, array: str | None, light: bool) -> list[str]:
    c = cluster
    pattern = "%x-%A_%a" if array else "%x-%j"
    if light:  # one CPU task that only reads files (the leaderboard): no GPUs, no requeue
        opts = [f"--job-name={job_name}", "--nodes=1", "--ntasks=1", "--cpus-per-task=2", f"--time={time}"]
    else:
        gpus = f"{c.gpu_type}:{c.gpus_per_node}" if c.gpu_type else str(c.gpus_per_node)
        opts = [
            f"--job-name={job_name}",
            f"--nodes={c.nodes}",
            f"--ntasks-per-node={c.gpus_per_node}",
            *([f"--gpus-per-node={gpus}"] if c.accelerator == "gpu" else []),
            f"--cpus-per-task={c.cpus_per_task}",
            f"--mem={c.mem}",
            f"--time={time}",
            f"--signal=SIGUSR1@{c.signal_seconds}",
            "--requeue" if c.requeue else "--no-requeue",
        ]
    if array:
        opts.append(f"--array={array}")
    opts += [f"--output={c.log_dir}/{pattern}.out", f"--error={c.log_dir}/{pattern}.err"]
    opts.append("--open-mode=append")  # a requeued job appends to the same log files
    where = {key: getattr(c, key) for key in ("partition", "account", "qos", "constraint")}
    if light and c.leaderboard_partition:  # a CPU partition: the array's (GPU) constraint would not match it
        where.update(partition=c.leaderboard_partition, constraint=None)
    opts += [f"--{key}={value}" for key, value in where.items() if value]
    if not light:
        opts += list(c.extra_sbatch)
    return ["#!/bin/bash", *(f"#SBATCH {o}" for o in opts)]


def render_job(
    cluster: ClusterConfig,
    command: list[str],
    workdir: str | Path = ".",
    *,
    job_name: str | None = None,
    time: str | None = None,
    array: str | None = None,
    light: bool = False,
) -> str:
    """An sbatch script that runs ``python COMMAND...`` once per task with ``srun`` (``light``: once, no srun).

    Args:
        cluster: the cluster definition.
        command: the arguments after the interpreter, e.g. ``["train.py", "optim.lr=0.1"]``.
        workdir: the directory the job runs in.
        job_name: the SLURM job name (``squeue --name``); default ``cluster.job_name``.
        time: the time limit; default ``cluster.time``.
        array: an ``--array`` spec such as ``0,2,3%2``.
        light: a one-task CPU job (the comparison's leaderboard) instead of a DDP allocation.
    """
    c = cluster
    name = job_name or c.job_name
    lines = _header(c, name, time or (c.leaderboard_time if light else c.time), array, light)
    lines += ["", "set -euo pipefail", f"cd {shlex.quote(str(workdir))}", f"mkdir -p {shlex.quote(c.log_dir)}"]
    lines += [f"export {k}={shlex.quote(str(v))}" for k, v in c.env.items()]
    lines += list(c.setup)
    run = f"{c.python} {' '.join(shlex.quote(a) for a in command)}"
    if array:
        where = "array task ${SLURM_ARRAY_JOB_ID:-?}_${SLURM_ARRAY_TASK_ID:-?}"
    else:
        where = "job ${SLURM_JOB_ID:-?}"
    lines.append(f'echo "[emozoo] {where} on ${{SLURM_JOB_NUM_NODES:-?}} nodes: ${{SLURM_JOB_NODELIST:-?}}"')
    lines += [run if light else f"srun {run}", ""]
    return "\n".join(lines)


def render_sbatch(cluster: ClusterConfig, train_args: list[str], workdir: str | Path = ".", **kwargs) -> str:
    """The sbatch script that runs ``train.py`` with ``train_args`` (then the cluster's settings) on ``cluster``.

    ``train_args`` should no longer hold the keys the cluster sets: see ``emozoo.slurm.settings.resolve_launch``.
    """
    return render_job(cluster, ["train.py", *train_args, *launch_overrides(cluster)], workdir, **kwargs)
