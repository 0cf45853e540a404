"""Cluster definitions: ``configs/cluster/*.yaml`` read into a typed ``ClusterConfig``, with ``key=value`` overrides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from emozoo.config_checks import check_key_path, check_keys, wrap_omegaconf_error
from emozoo.errors import ConfigError

__all__ = ["ClusterConfig", "load_cluster"]


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
    strategy: str = "ddp"  # a Lightning strategy with one process per srun task: ddp, ddp_find_unused_..., fsdp
    cpus_per_task: int = 8
    mem: str = "0"  # "0": all of the node's memory
    time: str = "24:00:00"
    stage_time: dict[str, str] = field(default_factory=dict)  # per chained stage or "eval"; default: time
    leaderboard_time: str = "00:30:00"  # the comparison's leaderboard job (one CPU task)
    # its partition (e.g. a CPU one; the array's constraint is then left out); None: the array's partition
    leaderboard_partition: str | None = None
    log_dir: str = "logs/slurm"
    signal_seconds: int = 90  # SIGUSR1 this many seconds before the time limit
    requeue: bool = True
    python: str = "python"
    setup: list[str] = field(default_factory=list)  # shell lines before srun: module load, source .venv/bin/activate
    env: dict[str, str] = field(default_factory=dict)
    extra_sbatch: list[str] = field(default_factory=list)  # more "#SBATCH" options, e.g. "--exclusive"


_TIME = re.compile(r"(\d+-)?\d+(:\d+){0,2}")  # SLURM's --time: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM:SS


def _check_times(layer: DictConfig, source: str) -> None:
    """Unquoted ``time: 10:00:00`` reaches us as the integer 36000 (YAML 1.1 base 60), which SLURM would read
    as 36000 minutes; refuse numbers so that the file says what it means."""
    times = {k: layer.get(k) for k in ("time", "leaderboard_time")}
    times.update({f"stage_time.{k}": v for k, v in (layer.get("stage_time") or {}).items()})
    for key, value in times.items():
        if value is not None and not isinstance(value, str):
            raise ConfigError(f'{source}: {key}: {value} is a number to YAML; quote the time, e.g. {key}: "10:00:00"')


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
        _check_times(layer, str(p))
        try:
            cfg = OmegaConf.merge(cfg, layer)
        except OmegaConfBaseException as err:
            raise wrap_omegaconf_error(err, str(p)) from None
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"cluster override {item!r} is not key=value (e.g. nodes=2)")
        check_key_path(key, ClusterConfig, "cluster override")
        # A time such as 10:00:00 stays text: YAML 1.1 would read it as the base-60 number 36000.
        parsed = value if _TIME.fullmatch(value) else OmegaConf.from_dotlist([f"v={value}"])["v"]
        try:
            OmegaConf.update(cfg, key, parsed, merge=True)
        except OmegaConfBaseException as err:
            raise wrap_omegaconf_error(err, "cluster override") from None
    obj: ClusterConfig = OmegaConf.to_object(cfg)
    if obj.nodes < 1 or obj.gpus_per_node < 1:
        raise ConfigError(f"nodes and gpus_per_node must be >= 1 (got {obj.nodes}, {obj.gpus_per_node})")
    return obj
