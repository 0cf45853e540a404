"""SLURM launch: render an sbatch script from ``configs/cluster/*.yaml`` plus overrides, and submit it.

The script asks for ``--ntasks-per-node`` equal to the GPUs per node, so ``srun`` starts one process per GPU and
Lightning's ``SLURMEnvironment`` reads every rank from SLURM's variables; we write no launcher of our own.
``--signal=SIGUSR1@90`` (not ``B:SIGUSR1``, which would signal only the batch shell) sends SIGUSR1 to every task
90 s before the time limit: Lightning then saves ``hpc_ckpt_<n>.ckpt`` and runs ``scontrol requeue``, and the
requeued job resumes by itself (``resume=auto``).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from emozoo.config_checks import check_key_path, check_keys, wrap_omegaconf_error
from emozoo.errors import ConfigError, EmozooError

__all__ = ["ClusterConfig", "load_cluster", "render_sbatch", "submit"]


@dataclass
class ClusterConfig:
    job_name: str = "emozoo"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    nodes: int = 1
    gpus_per_node: int = 8  # also the tasks (processes) per node
    gpu_type: str | None = None  # e.g. a100: --gpus-per-node=a100:8
    accelerator: str = "gpu"  # "cpu" runs one CPU process per task (no GPU request): for tests and CPU clusters
    cpus_per_task: int = 8
    mem: str = "0"  # "0": all of the node's memory
    time: str = "24:00:00"
    log_dir: str = "logs/slurm"
    signal_seconds: int = 90  # SIGUSR1 this many seconds before the time limit
    requeue: bool = True
    python: str = "python"
    setup: list[str] = field(default_factory=list)  # shell lines before srun: module load, source .venv/bin/activate
    env: dict[str, str] = field(default_factory=dict)
    extra_sbatch: list[str] = field(default_factory=list)  # more "#SBATCH" options, e.g. "--exclusive"


def load_cluster(path: str | Path | None, overrides: list[str] | None = None) -> ClusterConfig:
    """Read a cluster YAML (a path or a name under ``configs/cluster/``) and apply ``key=value`` overrides."""
    cfg = OmegaConf.structured(ClusterConfig)
    if path is not None:
        from emozoo.config import config_dir

        p = Path(path)
        if not p.suffix:
            p = config_dir() / "cluster" / f"{path}.yaml"
        if not p.is_file():
            names = sorted(q.stem for q in (config_dir() / "cluster").glob("*.yaml"))
            raise ConfigError(f"cluster config not found: {p} (shipped: {', '.join(names)})")
        layer = OmegaConf.load(p)
        check_keys(layer, ClusterConfig, str(p))
        try:
            cfg = OmegaConf.merge(cfg, layer)
        except OmegaConfBaseException as err:
            raise wrap_omegaconf_error(err, str(p)) from None
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"cluster override {item!r} is not key=value (e.g. nodes=2)")
        check_key_path(key, ClusterConfig, "cluster override")
        try:
            OmegaConf.update(cfg, key, OmegaConf.from_dotlist([f"v={value}"])["v"], merge=True)
        except OmegaConfBaseException as err:
            raise wrap_omegaconf_error(err, "cluster override") from None
    obj: ClusterConfig = OmegaConf.to_object(cfg)
    if obj.nodes < 1 or obj.gpus_per_node < 1:
        raise ConfigError(f"nodes and gpus_per_node must be >= 1 (got {obj.nodes}, {obj.gpus_per_node})")
    return obj


def render_sbatch(cluster: ClusterConfig, train_args: list[str], workdir: str | Path = ".") -> str:
    """The sbatch script that runs ``train.py`` with ``train_args`` on ``cluster``."""
    c = cluster
    gpus = f"{c.gpu_type}:{c.gpus_per_node}" if c.gpu_type else str(c.gpus_per_node)
    opts = [
        f"--job-name={c.job_name}",
        f"--nodes={c.nodes}",
        f"--ntasks-per-node={c.gpus_per_node}",
        *([f"--gpus-per-node={gpus}"] if c.accelerator == "gpu" else []),
        f"--cpus-per-task={c.cpus_per_task}",
        f"--mem={c.mem}",
        f"--time={c.time}",
        f"--output={c.log_dir}/%x-%j.out",
        f"--error={c.log_dir}/%x-%j.err",
        f"--signal=SIGUSR1@{c.signal_seconds}",
        "--open-mode=append",  # a requeued job appends to the same log files
    ]
    opts += ["--requeue"] if c.requeue else ["--no-requeue"]
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(c, key):
            opts.append(f"--{key}={getattr(c, key)}")
    opts += list(c.extra_sbatch)
    args = [
        *train_args,
        f"trainer.num_nodes={c.nodes}",
        f"trainer.devices={c.gpus_per_node}",
        f"trainer.accelerator={c.accelerator}",
        "trainer.strategy=ddp",
        "resume=auto",
    ]
    lines = ["#!/bin/bash", *(f"#SBATCH {o}" for o in opts), "", "set -euo pipefail", f"cd {shlex.quote(str(workdir))}"]
    lines += [f"mkdir -p {shlex.quote(c.log_dir)}"]
    lines += [f"export {k}={shlex.quote(str(v))}" for k, v in c.env.items()]
    lines += list(c.setup)
    lines += [
        'echo "[emozoo] job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NUM_NODES:-?} nodes: ${SLURM_JOB_NODELIST:-?}"',
        f"srun {c.python} train.py {' '.join(shlex.quote(a) for a in args)}",
        "",
    ]
    return "\n".join(lines)


def submit(script: str, path: str | Path) -> str:
    """Write the script to ``path`` and submit it with ``sbatch``; returns sbatch's output (the job id line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise EmozooError(f"sbatch not found on PATH; the script is at {path}. Submit it on a SLURM login node.")
    proc = subprocess.run([sbatch, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise EmozooError(f"sbatch {path} failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
    return proc.stdout.strip()
