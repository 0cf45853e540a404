"""``emozoo train [EXPERIMENT.yaml] [key=value ...]``: run an experiment (the same as ``python train.py``)."""

from __future__ import annotations

import argparse
import json

from emozoo.commands._args import add_experiment_args, split_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train, evaluate and export a model from a config",
        description="Layered config: configs/default.yaml, then EXPERIMENT, then key=value overrides. "
        "With no arguments: the embedded SynthFace demo on the CPU.",
    )
    add_experiment_args(p, help="experiment YAML (first) and overrides")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from emozoo.config import load_config, to_yaml

    experiment, overrides = split_args(args.args)
    cfg = load_config(experiment, overrides)  # fails before any work on a bad key
    if args.print_config:
        print(to_yaml(cfg))
        return 0
    from emozoo.recipes import run_experiment

    summary = run_experiment(cfg)
    print(json.dumps({k: v for k, v in summary.items()}, indent=2))
    if "report" in summary:
        print(f"[emozoo] report: {summary['report']}")
    return 0
