"""``emozoo slurm --cluster NAME [--dry-run] [EXPERIMENT] [key=value ...]``: render and submit an sbatch job."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from emozoo.commands._args import add_experiment_args, split_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "slurm",
        help="render an sbatch script from configs/cluster/*.yaml and submit it",
        description="Training arguments (EXPERIMENT and key=value) are checked here, before anything is submitted.",
    )
    add_experiment_args(p, help="passed to train.py")
    p.add_argument("--cluster", default="default", help="name under configs/cluster/ or a YAML path")
    p.add_argument(
        "--set",
        dest="cluster_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a cluster key, e.g. --set nodes=4 --set partition=booster",
    )
    p.add_argument("--nodes", type=int, help="shorthand for --set nodes=N")
    p.add_argument("--dry-run", action="store_true", help="print the script, do not submit")
    p.add_argument("--out", default=None, help="where to write the script (default: logs/slurm/<job>-<time>.sbatch)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from emozoo.config import load_config
    from emozoo.slurm import load_cluster, render_sbatch, submit

    overrides = list(args.cluster_overrides) + ([f"nodes={args.nodes}"] if args.nodes else [])
    cluster = load_cluster(args.cluster, overrides)
    experiment, train_overrides = split_args(args.args)
    load_config(experiment, train_overrides)  # a typo fails here, not hours later in the queue
    script = render_sbatch(cluster, list(args.args), workdir=Path.cwd().resolve())
    if args.dry_run:
        print(script)
        return 0
    out = args.out or f"{cluster.log_dir}/{cluster.job_name}-{time.strftime('%Y%m%d-%H%M%S')}.sbatch"
    print(submit(script, out))
    print(f"[emozoo] script: {out}")
    return 0
