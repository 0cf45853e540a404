"""Fake ``sbatch``, ``srun`` and ``scontrol`` for tests: tiny shell scripts put first on PATH."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

# sbatch: record the call, run the script in the foreground as SLURM would on a node, print the job id line.
SBATCH = """#!/usr/bin/env bash
echo "$@" >> "$FAKE_SLURM_LOG/sbatch.calls"
export SLURM_JOB_ID=4242 SLURM_JOB_NAME=emozoo-test
if [ -n "$FAKE_SBATCH_RUN" ]; then bash "$1" > "$FAKE_SLURM_LOG/job.out" 2>&1 || exit $?; fi
echo "Submitted batch job 4242"
"""

# srun: start one task per (node, task) with the variables SLURM gives each task, on this machine.
SRUN = """#!/usr/bin/env bash
echo "$@" >> "$FAKE_SLURM_LOG/srun.calls"
nodes=${FAKE_NODES:-1}; per=${FAKE_TASKS_PER_NODE:-1}; pids=()
for ((n=0; n<nodes; n++)); do for ((l=0; l<per; l++)); do
  SLURM_NTASKS=$((nodes*per)) SLURM_NTASKS_PER_NODE=$per SLURM_NNODES=$nodes SLURM_JOB_NUM_NODES=$nodes \\
  SLURM_PROCID=$((n*per+l)) SLURM_LOCALID=$l SLURM_NODEID=$n SLURM_NODELIST=127.0.0.1 \\
  SLURM_JOB_NAME=emozoo-test SLURM_JOB_ID=${SLURM_JOB_ID:-4242} MASTER_ADDR=127.0.0.1 \\
  "$@" > "$FAKE_SLURM_LOG/task-$((n*per+l)).log" 2>&1 & pids+=($!)
done; done
rc=0; for p in "${pids[@]}"; do wait $p || rc=$?; done; exit $rc
"""

SCONTROL = """#!/usr/bin/env bash
echo "$@" >> "$FAKE_SLURM_LOG/scontrol.calls"
"""


def install_fakes(bin_dir: Path, log_dir: Path, monkeypatch) -> None:
    """Write the fakes into ``bin_dir`` and put it (and this Python) first on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("sbatch", SBATCH), ("srun", SRUN), ("scontrol", SCONTROL)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    python_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), python_dir, os.environ["PATH"]]))
    monkeypatch.setenv("FAKE_SLURM_LOG", str(log_dir))
