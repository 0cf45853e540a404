"""`emozoo --help` lists every subcommand from the table without importing a command module, torch or scipy."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from emozoo.cli import COMMANDS, build_parser

REPO = Path(__file__).resolve().parents[1]

_PROBE = (
    "import sys, contextlib, io\n"
    "from emozoo.cli import main\n"
    "out = io.StringIO()\n"
    "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
    "    main(sys.argv[1:])\n"
    "print(out.getvalue())\n"
    "print('MODULES', ' '.join(sorted(sys.modules)))\n"
)


def _modules_after(argv: list[str]) -> tuple[str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, cwd=REPO, timeout=300, check=True
    )
    out, _, modules = proc.stdout.rpartition("MODULES ")
    return " ".join(out.split()), set(modules.split())  # argparse wraps the help lines


@pytest.mark.parametrize("argv", [["--help"], []])
def test_help_imports_neither_torch_nor_scipy(argv):
    out, modules = _modules_after(argv)
    for heavy in ("torch", "scipy", "numpy", "lightning", "emozoo.commands"):
        assert heavy not in modules, heavy
    for name, (_, help) in COMMANDS.items():
        assert name in out and help in out


def test_a_subcommand_imports_only_its_own_module():
    _, modules = _modules_after(["zoo", "--help"])
    assert "emozoo.commands.zoo" in modules
    assert not {f"emozoo.commands.{m}" for m, _ in COMMANDS.values() if m != "zoo"} & modules


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_help_is_the_commands_own(name):
    """The one-line help in the table is what the command's own parser says (they cannot drift apart)."""
    module, help = COMMANDS[name]
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(f"emozoo.commands.{module}").register(sub)
    assert sub._choices_actions[0].help == help
    assert build_parser([name])._subparsers._group_actions[0].choices[name].prog.endswith(name)
