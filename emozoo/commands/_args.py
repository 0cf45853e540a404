"""Arguments shared by several commands.

The commands that run an experiment config (``train``, ``compare``, ``slurm``) take ``[EXPERIMENT] [key=value ...]``:
an optional experiment YAML (the first argument without ``=``) followed by dotted overrides, layered over
configs/default.yaml by ``emozoo.config.load_config``. The commands that run a trained model (``predict``,
``eval``) share ``--model``, the precisions and the default number of decoding workers; they and ``embed`` share
``--device``.

Nothing here imports torch, so that ``emozoo --help`` stays light.
"""

from __future__ import annotations

import argparse
import os

PRECISIONS = ("32", "bf16")  # as emozoo.inference.PRECISIONS
FACE_MODES = ("all", "largest", "none")  # as emozoo.inference.FACE_MODES

EXPERIMENT_METAVAR = "EXPERIMENT|key=value"


def add_experiment_args(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """Add the positional ``EXPERIMENT|key=value`` list as ``args``; read it back with :func:`split_args`."""
    parser.add_argument("args", nargs="*", metavar=EXPERIMENT_METAVAR, help=help)


def split_args(args: list[str]) -> tuple[str | None, list[str]]:
    """The experiment (first argument without '=') and the overrides."""
    if args and "=" not in args[0]:
        return args[0], list(args[1:])
    return None, list(args)


def default_workers() -> int:
    """Decoding workers: one per core left after the main process, at least one, at most 8."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def add_model_arg(parser: argparse.ArgumentParser) -> None:
    """The required ``--model`` of the commands that run a trained model."""
    parser.add_argument("--model", required=True, help="zoo name (emozoo zoo list), model folder or hf-hub:org/name")


def add_device_arg(parser: argparse.ArgumentParser) -> None:
    """``--device auto|cpu|cuda|cuda:N|mps`` (checked by ``emozoo.devices.resolve_device``)."""
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps (default: auto)"
    )
