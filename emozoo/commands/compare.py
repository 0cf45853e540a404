"""``emozoo compare --backbones a,b,c [--cluster NAME] [EXPERIMENT] [key=value ...]``: one recipe, several
backbones, one leaderboard; here one after another, or on a cluster as one job array and a leaderboard job."""

from __future__ import annotations

import argparse

from emozoo.commands._args import add_experiment_args, split_args
from emozoo.commands._cluster_args import add_cluster_args, cluster_overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="run the same recipe for several backbones and print a leaderboard",
        description="Runs EXPERIMENT (default: configs/experiment/compare_backbones.yaml) once per backbone with "
        "backbone=NAME, then prints and writes a leaderboard of mean rho, kappa, alpha and throughput. With "
        "--cluster: one SLURM array task per backbone and a leaderboard job after the array; the same command "
        "again skips finished backbones and completes the leaderboard.",
    )
    p.add_argument("--backbones", required=True, help="comma-separated registry names (see `emozoo zoo backbones`)")
    add_experiment_args(p)
    p.add_argument(
        "--out",
        default=None,
        help="leaderboard directory (default: runs/compare/<time>, cluster: runs/compare/<name>-<hash of the command>)",
    )
    add_cluster_args(p, cluster_default=None)
    p.add_argument("--max-parallel", type=int, default=None, metavar="K", help="at most K array tasks at once (%%K)")
    p.set_defaults(func=run)


def _print_leaderboard(result: dict) -> None:
    from emozoo.compare import leaderboard_markdown

    print(leaderboard_markdown(result["rows"]))
    print("[emozoo] leaderboard: " + ", ".join(result["files"]))


def run(args: argparse.Namespace) -> int:
    experiment, overrides = split_args(args.args)
    experiment = experiment or "compare_backbones"
    names = [b.strip() for b in args.backbones.split(",") if b.strip()]
    if args.cluster is None:
        if args.nodes is not None or args.cluster_overrides or args.max_parallel or args.dry_run:
            raise ValueError("--nodes, --set, --max-parallel and --dry-run need --cluster NAME")
        from emozoo.compare import compare_backbones

        _print_leaderboard(compare_backbones(names, experiment, overrides, args.out))
        return 0
    from emozoo.slurm import describe, resolve_launch
    from emozoo.slurm.array import submit_compare

    launch = resolve_launch(args.cluster, cluster_overrides(args), experiment, overrides)
    for note in launch.notes:
        print(f"[emozoo] {note}")
    sub = submit_compare(launch, names, args.out, args.max_parallel, dry_run=args.dry_run)
    if sub.skipped:
        print(f"[emozoo] already finished, skipped: {', '.join(sub.skipped)}")
    if sub.leaderboard is not None:
        _print_leaderboard(sub.leaderboard)
        return 0
    if args.dry_run:
        print(describe(sub.jobs))
        return 0
    for s in sub.jobs:
        after = f" (after {s.dependency})" if s.dependency else ""
        print(f"[emozoo] submitted {s.job.name}: job {s.job_id}{after}, script {s.path}")
    print(f"[emozoo] plan: {sub.plan_path}")
    print(f"[emozoo] watch: squeue --me --name={','.join(s.job.name for s in sub.jobs)}")
    print(f"[emozoo] leaderboard (when done): {sub.plan.out_dir}/leaderboard.md")
    return 0
