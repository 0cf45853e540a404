"""Arguments shared by the commands that run an experiment config (``train``, ``compare``, ``slurm``).

They all take ``[EXPERIMENT] [key=value ...]``: an optional experiment YAML (the first argument without ``=``)
followed by dotted overrides, layered over configs/default.yaml by ``emozoo.config.load_config``.
"""

from __future__ import annotations

import argparse

EXPERIMENT_METAVAR = "EXPERIMENT|key=value"


def add_experiment_args(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """Add the positional ``EXPERIMENT|key=value`` list as ``args``; read it back with :func:`split_args`."""
    parser.add_argument("args", nargs="*", metavar=EXPERIMENT_METAVAR, help=help)


def split_args(args: list[str]) -> tuple[str | None, list[str]]:
    """The experiment (first argument without '=') and the overrides."""
    if args and "=" not in args[0]:
        return args[0], list(args[1:])
    return None, list(args)
