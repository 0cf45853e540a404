"""Fake ``sbatch``, ``squeue``, ``srun`` and ``scontrol`` for tests: tiny shell scripts put first on PATH.

``sbatch`` hands out job ids 1001, 1002, ... (a counter file in ``$FAKE_SLURM_LOG``), records each call as
``<id> <args>`` in ``sbatch.calls`` and a copy of the script as ``scripts/<id>.sbatch``, and prints the id
(``--parsable``) or SLURM's ``Submitted batch job <id>`` line. It fails (exit 1) for a script whose path contains
``$FAKE_SBATCH_FAIL``. ``squeue`` prints ``squeue.out`` if a test wrote one (the jobs still queued), else nothing.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

# sbatch: record the call, run the script in the foreground as SLURM would on a node, print the job id.
SBATCH = """#!/usr/bin/env bash
script="${@: -1}"
if [ -n "$FAKE_SBATCH_FAIL" ] && [[ "$script" == *"$FAKE_SBATCH_FAIL"* ]]; then
  echo "sbatch: error: Batch job submission failed: Invalid account" >&2; exit 1; fi
n=$(cat "$FAKE_SLURM_LOG/next_id" 2>/dev/null || echo 1001); echo $((n+1)) > "$FAKE_SLURM_LOG/next_id"
echo "$n $*" >> "$FAKE_SLURM_LOG/sbatch.calls"
mkdir -p "$FAKE_SLURM_LOG/scripts"; cp "$script" "$FAKE_SLURM_LOG/scripts/$n.sbatch"
export SLURM_JOB_ID=$n SLURM_JOB_NAME=emozoo-test
if [ -n "$FAKE_SBATCH_RUN" ]; then bash "$script" > "$FAKE_SLURM_LOG/job.out" 2>&1 || exit $?; fi
if [ "$1" = "--parsable" ]; then echo "$n"; else echo "Submitted batch job $n"; fi
"""

SQUEUE = """#!/usr/bin/env bash
echo "$@" >> "$FAKE_SLURM_LOG/squeue.calls"
if [ -f "$FAKE_SLURM_LOG/squeue.out" ]; then cat "$FAKE_SLURM_LOG/squeue.out"; fi
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
    for name, text in (("sbatch", SBATCH), ("squeue", SQUEUE), ("srun", SRUN), ("scontrol", SCONTROL)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    python_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), python_dir, os.environ["PATH"]]))
    monkeypatch.setenv("FAKE_SLURM_LOG", str(log_dir))


def sbatch_calls(log_dir: Path) -> list[dict]:
    """The recorded submissions, in order: ``{id, args, script, dependency, options}``.

    ``options`` are the ``#SBATCH`` options of the submitted script (``{"array": "0,2%1", ...}``), read from the
    copy the fake kept, so a test sees what SLURM would have seen even if the file was changed afterwards.
    """
    path = log_dir / "sbatch.calls"
    calls = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        job_id, *args = line.split()
        dep = next((a.split("=", 1)[1] for a in args if a.startswith("--dependency=")), None)
        script = (log_dir / "scripts" / f"{job_id}.sbatch").read_text()
        calls.append(
            {"id": job_id, "args": args, "script": script, "dependency": dep, "options": sbatch_options(script)}
        )
    return calls


def sbatch_options(script: str) -> dict[str, str]:
    """The ``#SBATCH --key=value`` options of a script (``--flag`` alone maps to "")."""
    opts = {}
    for line in script.splitlines():
        m = re.match(r"#SBATCH --([\w-]+)(?:=(.*))?$", line)
        if m:
            opts[m.group(1)] = m.group(2) or ""
    return opts
