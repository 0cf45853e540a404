"""``emozoo compare --backbones a,b,c [EXPERIMENT] [key=value ...]``: one recipe, several backbones, one leaderboard."""

from __future__ import annotations

import argparse

from emozoo.commands._args import add_experiment_args, split_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="run the same recipe for several backbones and print a leaderboard",
        description="Runs EXPERIMENT (default: configs/experiment/compare_backbones.yaml) once per backbone with "
        "backbone=NAME, then prints and writes a leaderboard of mean rho, kappa, alpha and throughput.",
    )
    p.add_argument("--backbones", required=True, help="comma-separated registry names (see `emozoo zoo backbones`)")
    add_experiment_args(p)
    p.add_argument("--out", default=None, help="leaderboard directory (default: runs/compare/<time>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from emozoo.compare import compare_backbones, leaderboard_markdown

    experiment, overrides = split_args(args.args)
    names = [b.strip() for b in args.backbones.split(",") if b.strip()]
    if not names:
        raise ValueError("--backbones is empty; give names like cnn-tiny,vit-tiny")
    result = compare_backbones(names, experiment or "compare_backbones", overrides, args.out)
    print(leaderboard_markdown(result["rows"]))
    print("[emozoo] leaderboard: " + ", ".join(result["files"]))
    return 0
