"""The ``emozoo`` command: one table maps subcommands to the modules that implement them (litgpt-style).

Each module in ``emozoo.commands`` has ``register(subparsers)``, which adds its parser and sets ``func`` to a
``(args) -> int`` handler. Only the module of the subcommand that runs is imported: ``emozoo --help`` lists the
table's one-line helps without importing any command (and so neither torch nor scipy).

Every error reaches the user as one line on stderr with exit status 2, never as a traceback: errors a user can act
on (``EmozooError``, a missing or unreadable file) print their message; anything else prints its type and message
plus a hint that ``EMOZOO_DEBUG=1`` shows the traceback (with it set, the exception propagates unchanged).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from emozoo.errors import EmozooError

__all__ = ["COMMANDS", "build_parser", "error_line", "main"]

# subcommand -> (module in emozoo.commands, one-line help shown by `emozoo --help`; the module's own parser repeats it)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train, evaluate and export a model from a config"),
    "eval": ("evaluate", "agreement of a model with human raters on a shard set"),
    "predict": ("predict", "predict the 40 emotions for images"),
    "shards": ("shards", "make WebDataset shards (SynthFace, EmoNet-Face)"),
    "embed": ("embed", "cache backbone embeddings of a shard set for head-only training"),
    "agreement": ("agreement", "inter-annotator agreement (α, κ) of an annotation table"),
    "compare": ("compare", "run the same recipe for several backbones and print a leaderboard"),
    "zoo": ("zoo", "list backbones and published checkpoints"),
    "slurm": ("slurm", "render sbatch scripts from configs/cluster/*.yaml and submit them"),
    "app": ("app", "try a model on photos and the webcam in a local web page"),
}

DEBUG_ENV = "EMOZOO_DEBUG"
_MAX_MESSAGE = 400  # characters: a message is a line, not a dump of a tensor or a file


def _wanted(argv: list[str] | None) -> str | None:
    """The subcommand that will run: the first argument that is not an option, if it names one."""
    first = next((a for a in argv or [] if not a.startswith("-")), None)
    return first if first in COMMANDS else None


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``add_subparsers`` gives every subcommand's parser this class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: the full parser of the subcommand it names, a one-line stub for every other."""
    parser = _Parser(prog="emozoo", description="Fine-grained facial emotion recognition model zoo.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _wanted(argv)
    for name, (module, help) in COMMANDS.items():
        if name == wanted:
            importlib.import_module(f"emozoo.commands.{module}").register(sub)
        else:
            sub.add_parser(name, help=help)
    return parser


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."


def error_line(err: BaseException) -> str:
    """The one-line message the CLI prints for ``err`` (without the ``emozoo CMD: error:`` prefix)."""
    if isinstance(err, EmozooError):
        return _one_line(str(err))
    if isinstance(err, OSError):  # FileNotFoundError, PermissionError, a full disk: the user can act on these
        if err.filename is None:
            return _one_line(str(err) or type(err).__name__)
        what = err.strerror or type(err).__name__
        return _one_line(f"{err.filename}: {what}; check the path and its permissions")
    hint = f"(set {DEBUG_ENV}=1 to see the traceback)"
    if isinstance(err, KeyError):  # str(KeyError('input_size')) is just "'input_size'": say what it is
        key = err.args[0] if err.args else "?"
        return _one_line(f"missing key {key!r} in an input file or config (KeyError) {hint}")
    if isinstance(err, IndexError):
        return _one_line(f"an index is out of range, likely a malformed input file (IndexError: {err}) {hint}")
    if isinstance(err, RecursionError):
        return _one_line(f"an input is nested too deeply to read (RecursionError) {hint}")
    if isinstance(err, MemoryError):
        return _one_line(f"out of memory; try a smaller batch size or input {hint}")
    kind = type(err).__qualname__
    if type(err).__module__ != "builtins":  # "_csv.Error", "safetensors_rust.SafetensorError": say whose error
        kind = f"{type(err).__module__}.{kind}"
    return _one_line(f"{kind}: {err} {hint}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _wanted(argv) or "emozoo"
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0 if not argv else 2
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"emozoo {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        prefix = "emozoo" if command == "emozoo" else f"emozoo {command}"
        print(f"{prefix}: error: {error_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
