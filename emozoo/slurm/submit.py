"""Submitting scripts with ``sbatch --parsable``: job ids parsed, dependencies wired, or a dry run that prints it all.

A submission is a list of ``Job``s in order; a job's ``after`` names earlier jobs of the same list, and their ids
become ``--dependency=afterok:<id>`` (or ``afterany``) on its ``sbatch`` line. ``squeue`` tells whether earlier
jobs are still queued, so that running a command twice does not submit the same work twice.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from emozoo.errors import EmozooError

__all__ = ["Job", "Submitted", "describe", "queued", "sbatch", "submit_jobs"]

_JOB_ID = re.compile(r"(\d+)(?:;[\w.-]+)?")  # --parsable prints "<id>" or "<id>;<cluster>"


@dataclass
class Job:
    """One script to submit. ``name`` is unique within a submission; ``after`` is ``[(kind, name)]``."""

    name: str
    script: str
    after: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Submitted:
    job: Job
    path: Path  # where the script is (or would be) written
    dependency: str | None  # the --dependency value; in a dry run it names jobs as <name>
    job_id: str | None  # None in a dry run

    @property
    def command(self) -> list[str]:
        dep = [f"--dependency={self.dependency}"] if self.dependency else []
        return ["sbatch", "--parsable", *dep, str(self.path)]


def _tool(name: str, path: Path | None = None) -> str:
    found = shutil.which(name)
    if found is None:
        where = f"; the script is at {path}" if path else ""
        raise EmozooError(f"{name} not found on PATH{where}. Run this on a SLURM login node.")
    return found


def sbatch(path: str | Path, dependency: str | None = None) -> str:
    """Submit one script with ``sbatch --parsable``; returns the job id."""
    cmd = [_tool("sbatch", Path(path)), "--parsable", *([f"--dependency={dependency}"] if dependency else [])]
    proc = subprocess.run([*cmd, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise EmozooError(f"sbatch {path} failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
    out = proc.stdout.strip().splitlines()
    m = _JOB_ID.fullmatch(out[-1].strip()) if out else None
    if m is None:
        raise EmozooError(f"sbatch {path}: expected a job id from --parsable, got {proc.stdout.strip()[:200]!r}")
    return m.group(1)


def submit_jobs(
    jobs: list[Job], script_dir: str | Path, dry_run: bool = False, submitted: list[Submitted] | None = None
) -> list[Submitted]:
    """Write each job's script to ``script_dir/<name>.sbatch`` and submit them in order (dry run: neither).

    ``submitted`` are jobs of the same submission sent before (their names may appear in ``after``).

    Raises:
        EmozooError: a job names an unknown or later job in ``after``, or sbatch fails (jobs submitted before
            the failure stay submitted; their ids are in the message).
    """
    ids = {s.job.name: s.job_id or f"<{s.job.name}>" for s in submitted or []}
    done: list[Submitted] = []
    for job in jobs:
        if job.name in ids:
            raise EmozooError(f"two jobs are named {job.name!r} in one submission; names must be unique")
        unknown = [name for _, name in job.after if name not in ids]
        if unknown:
            raise EmozooError(f"job {job.name!r} waits for {unknown[0]!r}, which is not submitted before it")
        dependency = ",".join(f"{kind}:{ids[name]}" for kind, name in job.after) or None
        path = Path(script_dir) / f"{job.name}.sbatch"
        job_id = None
        if not dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(job.script)
            try:
                job_id = sbatch(path, dependency)
            except EmozooError as err:
                so_far = ", ".join(f"{s.job.name}={s.job_id}" for s in [*(submitted or []), *done])
                raise EmozooError(f"{err} (already submitted: {so_far or 'none'})") from None
        ids[job.name] = job_id or f"<{job.name}>"
        done.append(Submitted(job, path, dependency, job_id))
    return done


def describe(submitted: list[Submitted], scripts: bool = True) -> str:
    """What a dry run shows: each job's sbatch line with its dependency, then (``scripts``) its script."""
    parts = []
    for i, s in enumerate(submitted, 1):
        parts.append(f"# --- job {i}/{len(submitted)}: {s.job.name}")
        parts.append("# " + " ".join(shlex.quote(a) for a in s.command))
        if scripts:
            parts.append(s.job.script)
    return "\n".join(parts)


def queued(job_ids: list[str]) -> list[str]:
    """The ids (``<id>`` or ``<array>_<task>``) of those jobs that ``squeue`` still lists as pending or running."""
    ids = [j for j in job_ids if j and j.isdigit()]
    if not ids:
        return []
    proc = subprocess.run(
        [_tool("squeue"), "--noheader", "--format=%i", f"--jobs={','.join(ids)}"], capture_output=True, text=True
    )
    if proc.returncode != 0:  # squeue fails for ids it no longer knows: nothing of them is queued
        return []
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]
