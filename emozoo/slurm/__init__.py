"""SLURM launch, by concern: cluster definitions (``cluster``), the rule for settings both sides set
(``settings``), sbatch scripts (``render``), ``sbatch --parsable``/``squeue`` (``submit``), chained stages
(``chain``), and backbone comparisons as a job array (``array``, with its files in ``results`` and the tasks'
entry point in ``task``: ``python -m emozoo.slurm.task run|leaderboard PLAN``).
"""

from emozoo.slurm.cluster import ClusterConfig, load_cluster
from emozoo.slurm.render import log_path, render_job, render_sbatch
from emozoo.slurm.settings import CLUSTER_KEYS, Launch, launch_overrides, resolve_launch
from emozoo.slurm.submit import Job, Submitted, describe, queued, sbatch, submit_jobs

__all__ = [
    "CLUSTER_KEYS",
    "ClusterConfig",
    "Job",
    "Launch",
    "Submitted",
    "describe",
    "launch_overrides",
    "load_cluster",
    "log_path",
    "queued",
    "render_job",
    "render_sbatch",
    "resolve_launch",
    "sbatch",
    "submit_jobs",
]
