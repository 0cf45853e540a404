"""The ``emozoo`` command: one table maps subcommands to the modules that implement them.

Each module in ``emozoo.commands`` has ``register(subparsers)``, which adds its parser and sets ``func`` to a
``(args) -> int`` handler. Modules are imported lazily so ``emozoo --help`` stays fast. Errors that a user can
act on (``EmozooError`` and friends) are printed as one line and exit with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from emozoo.errors import EmozooError

# subcommand -> module in emozoo.commands
COMMANDS: dict[str, str] = {
    "train": "train",
    "eval": "evaluate",
    "predict": "predict",
    "shards": "shards",
    "embed": "embed",
    "agreement": "agreement",
    "compare": "compare",
    "zoo": "zoo",
    "slurm": "slurm",
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emozoo", description="Fine-grained facial emotion recognition model zoo.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = None
    if argv:  # import only the module that runs, unless help for all is asked
        first = next((a for a in argv if not a.startswith("-")), None)
        wanted = first if first in COMMANDS else None
    for name, module in COMMANDS.items():
        if wanted is not None and name != wanted:
            sub.add_parser(name)
            continue
        try:
            mod = importlib.import_module(f"emozoo.commands.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"emozoo.commands.{module}":
                raise
            continue  # not implemented yet
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if not argv else 2
    try:
        return int(args.func(args) or 0)
    except (EmozooError, FileNotFoundError, KeyError, ValueError) as err:
        msg = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        print(f"emozoo {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
