"""Chained stages: an experiment's stages as one job each (then an eval job), linked with ``afterok``.

Stage ``i`` runs the experiment with ``stages=[<stage i>]`` as its own run, ``<name>-<stage>``, and starts from
the model that stage ``i-1`` exported (``init_from=<checkpoint_dir>/<name>-<prev>/<version>/model``); the first
stage starts from the experiment's own ``init_from``, if any. Stage jobs skip the test pass (``eval.data=null``:
they only export); the eval job runs ``stages=[]`` from the last export, and it alone tests.
So each stage has its own time limit (``stage_time.<stage>`` in the cluster config, else ``time``) and its own
requeue, and a failed stage stops the jobs after it (``afterok``) instead of training from the wrong weights.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from emozoo.config import StageConfig, load_config
from emozoo.errors import ConfigError
from emozoo.slurm.render import render_sbatch
from emozoo.slurm.settings import Launch
from emozoo.slurm.submit import Job, Submitted, submit_jobs

__all__ = ["EVAL_STAGE", "chain_jobs", "export_dir", "submit_experiment"]

EVAL_STAGE = "eval"


def export_dir(checkpoint_dir: str, name: str, stage: str, version: str) -> str:
    """Where the job of ``stage`` exports its model (``run_experiment``'s ``<ckpt>/<name>/<version>/model``)."""
    return str(Path(checkpoint_dir) / f"{name}-{stage}" / version / "model")


def _stage_override(stage: StageConfig) -> str:
    return "stages=[" + json.dumps(asdict(stage)) + "]"  # JSON is YAML flow style, as the override parser reads


def chain_jobs(launch: Launch, workdir: str | Path, version: str | None = None) -> list[Job]:
    """One job per stage of ``launch.config`` and an eval job, each waiting (``afterok``) for the one before.

    Args:
        launch: the cluster and the experiment, made to agree by ``resolve_launch``.
        workdir: the directory the jobs run in.
        version: the run version shared by every stage; default ``cfg.version`` or ``chain-<date>-<time>``.

    Raises:
        ConfigError: two stages share a name, or one is named ``eval``; any stage's config is invalid.
    """
    cfg, c = launch.config, launch.cluster
    names = [s.name for s in cfg.stages]
    clash = [n for n in names if names.count(n) > 1 or n == EVAL_STAGE]
    if clash:
        raise ConfigError(f"stages: stage name {clash[0]!r} is repeated or reserved; chained stages need unique names")
    unknown = sorted(set(c.stage_time) - {*names, EVAL_STAGE})
    if unknown:
        raise ConfigError(f"cluster stage_time.{unknown[0]}: no such stage; the stages are {[*names, EVAL_STAGE]}")
    version = version or cfg.version or time.strftime("chain-%Y%m%d-%H%M%S")
    init_from = cfg.init_from
    jobs: list[Job] = []
    steps = [(s.name, _stage_override(s)) for s in cfg.stages] + [(EVAL_STAGE, "stages=[]")]
    for stage, stages_arg in steps:
        args = [stages_arg, f"name={cfg.name}-{stage}", f"version={version}"]
        args += [] if stage == EVAL_STAGE else ["eval.data=null"]  # only the eval job runs the test pass
        args += [f"init_from={init_from}"] if init_from else []
        train_args = [*([launch.experiment] if launch.experiment else []), *launch.overrides, *args]
        load_config(launch.experiment, [*launch.overrides, *args])  # each job's config is valid before any is queued
        job_name = f"{c.job_name}-{cfg.name}-{stage}"
        script = render_sbatch(c, train_args, workdir, job_name=job_name, time=c.stage_time.get(stage, c.time))
        jobs.append(Job(job_name, script, [("afterok", jobs[-1].name)] if jobs else []))
        init_from = export_dir(cfg.checkpoint_dir, cfg.name, stage, version)
    return jobs


def submit_experiment(
    launch: Launch,
    chain: bool = False,
    dry_run: bool = False,
    script_dir: str | Path | None = None,
    workdir: str | Path | None = None,
) -> list[Submitted]:
    """Submit the experiment as one job (every stage, then eval), or ``chain``ed as a job per stage.

    Scripts go to ``script_dir`` (default ``<log_dir>/sbatch-<date>-<time>/``); a dry run writes and submits nothing.
    """
    workdir = Path(workdir or Path.cwd()).resolve()
    c = launch.cluster
    if chain:
        jobs = chain_jobs(launch, workdir)
    else:
        train_args = [*([launch.experiment] if launch.experiment else []), *launch.overrides]
        jobs = [Job(c.job_name, render_sbatch(c, train_args, workdir))]
    script_dir = script_dir or Path(c.log_dir) / time.strftime("sbatch-%Y%m%d-%H%M%S")
    return submit_jobs(jobs, script_dir, dry_run=dry_run)
