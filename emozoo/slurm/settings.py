"""The one rule for training settings that the cluster also sets, so that no setting is overridden in silence.

A job on the cluster runs ``srun`` with one process per GPU, so ``trainer.num_nodes``, ``trainer.devices``,
``trainer.accelerator`` and ``trainer.strategy`` must match the allocation. Each has a cluster key:

| training setting | cluster key | flag |
|---|---|---|
| ``trainer.num_nodes`` | ``nodes`` | ``--nodes N`` |
| ``trainer.devices`` | ``gpus_per_node`` | ``--set gpus_per_node=N`` |
| ``trainer.accelerator`` | ``accelerator`` | ``--set accelerator=gpu`` |
| ``trainer.strategy`` | ``strategy`` | ``--set strategy=NAME`` |

The rule: a training setting given on the command line or in the experiment file is *taken* as the cluster
setting (``trainer.num_nodes=4`` asks for 4 nodes), unless the same cluster key was also given as a flag with
another value; then nothing is submitted and one line names both values and the flag to use. Values that mean
"whatever the allocation has" (``auto``, ``devices=-1``) are no request at all; values that cannot run one process
per ``srun`` task (``ddp_spawn``, a device list) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from emozoo.config import ExperimentConfig, TrainerConfig, load_config
from emozoo.errors import ConfigError
from emozoo.slurm.cluster import ClusterConfig, load_cluster

__all__ = ["CLUSTER_KEYS", "Launch", "launch_overrides", "resolve_launch"]

# training key -> (cluster key, the flag that sets it)
CLUSTER_KEYS: dict[str, tuple[str, str]] = {
    "trainer.num_nodes": ("nodes", "--nodes {}"),
    "trainer.devices": ("gpus_per_node", "--set gpus_per_node={}"),
    "trainer.accelerator": ("accelerator", "--set accelerator={}"),
    "trainer.strategy": ("strategy", "--set strategy={}"),
}
# Strategies that start their own processes (or use one): under srun every task is already a process.
_NOT_UNDER_SRUN = ("ddp_spawn", "ddp_fork", "ddp_notebook", "dp", "single_device", "single_xla", "xla")


@dataclass
class Launch:
    """A cluster and a training config that agree; ``overrides`` no longer hold the keys the cluster sets."""

    cluster: ClusterConfig
    experiment: str | None
    overrides: list[str]
    config: ExperimentConfig
    notes: list[str] = field(default_factory=list)  # "trainer.num_nodes=4 taken as --nodes 4"


def launch_overrides(cluster: ClusterConfig) -> list[str]:
    """The training overrides every cluster job ends with: the allocation's shape, and resume after requeue."""
    return [
        f"trainer.num_nodes={cluster.nodes}",
        f"trainer.devices={cluster.gpus_per_node}",
        f"trainer.accelerator={cluster.accelerator}",
        f"trainer.strategy={cluster.strategy}",
        "resume=auto",
    ]


def _as_cluster_value(key: str, value: Any) -> Any:
    """The cluster value a training setting asks for; None when it asks for nothing (``auto``)."""
    text = str(value).strip().lower()
    if text == "auto" or (key == "trainer.devices" and text == "-1"):
        return None
    if key == "trainer.num_nodes":
        return int(value)
    if key == "trainer.devices":
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(
                f"trainer.devices={value}: on a cluster each task gets one device; ask for a count with "
                "--set gpus_per_node=N"
            )
        return int(text)
    if key == "trainer.accelerator":
        if text not in ("gpu", "cuda", "cpu"):
            raise ConfigError(f"trainer.accelerator={value}: a cluster job runs on gpu or cpu (--set accelerator=)")
        return "cpu" if text == "cpu" else "gpu"
    if text in _NOT_UNDER_SRUN:
        raise ConfigError(
            f"trainer.strategy={value} cannot run under srun (one process per task); use ddp, "
            "ddp_find_unused_parameters_true, fsdp or deepspeed (--set strategy=NAME)"
        )
    return str(value)


def _user_settings(cfg: ExperimentConfig, overrides: list[str]) -> dict[str, tuple[Any, str]]:
    """The cluster-set training keys the user gave: ``{key: (value, source)}``; the last override wins."""
    found: dict[str, tuple[Any, str]] = {}
    defaults = TrainerConfig()
    for f in fields(TrainerConfig):
        key = f"trainer.{f.name}"
        value = getattr(cfg.trainer, f.name)
        if key in CLUSTER_KEYS and value != getattr(defaults, f.name):
            found[key] = (value, "the experiment config")
    for item in overrides:
        key, _, value = item.partition("=")
        if key in CLUSTER_KEYS:
            found[key] = (getattr(cfg.trainer, key.split(".")[1]), "the command line")
    return found


def resolve_launch(
    cluster: str | Path | None,
    cluster_overrides: list[str],
    experiment: str | None,
    overrides: list[str],
) -> Launch:
    """Load the cluster and the training config, and make their shared settings agree by the rule above.

    Args:
        cluster: a name under ``configs/cluster/`` or a YAML path.
        cluster_overrides: ``key=value`` for the cluster, as given by flags (``--nodes N`` is ``nodes=N``).
        experiment: the experiment YAML or name; None for the default.
        overrides: the training ``key=value`` overrides.

    Raises:
        ConfigError: a training setting contradicts a cluster flag (the line names both values and the flag), or
            cannot run under srun; or any config error of either file.
    """
    cfg = load_config(experiment, overrides)  # a typo fails here, not hours later in the queue
    base = load_cluster(cluster, cluster_overrides)
    flagged = {item.partition("=")[0].strip() for item in cluster_overrides}
    taken: dict[str, Any] = {}
    notes = []
    for key, (value, source) in _user_settings(cfg, overrides).items():
        wanted = _as_cluster_value(key, value)
        if wanted is None:
            continue
        ckey, flag = CLUSTER_KEYS[key]
        have = getattr(base, ckey)
        if ckey in flagged and have != wanted:
            raise ConfigError(
                f"{key}={value} (from {source}) conflicts with {flag.format(have)}: "
                f"use {flag.format(wanted)} alone, or {key}={have} to keep {flag.format(have)}"
            )
        if have != wanted:
            taken[ckey] = wanted
            notes.append(f"{key}={value} (from {source}) taken as {flag.format(wanted)}")
    resolved = replace(base, **taken)
    if resolved.nodes < 1 or resolved.gpus_per_node < 1:
        raise ConfigError(f"nodes and gpus_per_node must be >= 1 (got {resolved.nodes}, {resolved.gpus_per_node})")
    kept = [o for o in overrides if o.partition("=")[0] not in CLUSTER_KEYS]
    return Launch(resolved, experiment, kept, cfg, notes)
