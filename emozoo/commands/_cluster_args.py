"""The cluster flags shared by ``emozoo slurm`` and ``emozoo compare --cluster``. No torch imports here."""

from __future__ import annotations

import argparse


def add_cluster_args(p: argparse.ArgumentParser, cluster_default: str | None) -> None:
    p.add_argument("--cluster", default=cluster_default, help="name under configs/cluster/ or a YAML path")
    p.add_argument(
        "--set",
        dest="cluster_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a cluster key, e.g. --set partition=booster --set stage_time.eval=01:00:00",
    )
    p.add_argument(
        "--nodes",
        type=int,
        help="nodes per job (shorthand for --set nodes=N); trainer.num_nodes=N without --nodes is taken as --nodes N",
    )
    p.add_argument("--dry-run", action="store_true", help="print every script and its sbatch line, submit nothing")


def cluster_overrides(args: argparse.Namespace) -> list[str]:
    return list(args.cluster_overrides) + ([f"nodes={args.nodes}"] if args.nodes is not None else [])
