"""``emozoo slurm --cluster NAME [--chain] [--dry-run] [EXPERIMENT] [key=value ...]``: render and submit sbatch jobs."""

from __future__ import annotations

import argparse

from emozoo.commands._args import add_experiment_args, split_args
from emozoo.commands._cluster_args import add_cluster_args, cluster_overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "slurm",
        help="render sbatch scripts from configs/cluster/*.yaml and submit them",
        description="Training arguments (EXPERIMENT and key=value) are checked here, before anything is submitted. "
        "trainer.num_nodes/devices/accelerator/strategy are taken as the cluster's nodes/gpus_per_node/"
        "accelerator/strategy, and refused when a flag says otherwise.",
    )
    add_experiment_args(p, help="passed to train.py")
    add_cluster_args(p, cluster_default="default")
    p.add_argument(
        "--chain",
        action="store_true",
        help="one job per stage, then an eval job, linked with afterok; each starts from the previous export",
    )
    p.add_argument("--out", default=None, help="folder for the scripts (default: <log_dir>/sbatch-<date>-<time>/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from emozoo.slurm import describe, resolve_launch
    from emozoo.slurm.chain import submit_experiment

    experiment, overrides = split_args(args.args)
    launch = resolve_launch(args.cluster, cluster_overrides(args), experiment, overrides)
    for note in launch.notes:
        print(f"[emozoo] {note}")
    submitted = submit_experiment(launch, chain=args.chain, dry_run=args.dry_run, script_dir=args.out)
    if args.dry_run:
        print(describe(submitted))
        return 0
    for s in submitted:
        after = f" (after {s.dependency})" if s.dependency else ""
        print(f"[emozoo] submitted {s.job.name}: job {s.job_id}{after}, script {s.path}")
    print(f"[emozoo] watch: squeue --me --name={','.join(s.job.name for s in submitted)}")
    return 0
