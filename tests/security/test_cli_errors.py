"""One line, always: every error the CLI meets reaches the user as one line on stderr, exit status 2, no traceback.

``EMOZOO_DEBUG=1`` lets the exception through with its traceback, for bug reports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import emozoo.commands.zoo as zoo_command
from emozoo.cli import main

REPO = Path(__file__).resolve().parents[2]


def _one_error_line(capsys, argv: list[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _failing(exc: BaseException):
    def run(args):
        raise exc

    return run


@pytest.fixture
def no_debug(monkeypatch):
    monkeypatch.delenv("EMOZOO_DEBUG", raising=False)


@pytest.mark.parametrize(
    ("exc", "needles"),
    [
        (KeyError("input_size"), ["missing key 'input_size'", "KeyError"]),  # was "error: input_size"
        (KeyError(101), ["missing key 101", "KeyError"]),  # was "error: 101"
        (IndexError("index 101 is out of bounds for dimension 0 with size 3"), ["IndexError", "index 101"]),
        (ZeroDivisionError("float division by zero"), ["ZeroDivisionError", "float division by zero"]),
        (TypeError("__init__() got an unexpected keyword argument 'evil'"), ["TypeError", "'evil'"]),
        (RecursionError("maximum recursion depth exceeded"), ["nested too deeply", "RecursionError"]),
        (RuntimeError("line one\nline two\n  line three"), ["RuntimeError: line one line two line three"]),
    ],
)
def test_unexpected_errors_are_one_line_with_the_debug_hint(capsys, monkeypatch, no_debug, exc, needles):
    monkeypatch.setattr(zoo_command, "run_backbones", _failing(exc))
    line = _one_error_line(capsys, ["zoo", "backbones"])
    assert line.startswith("emozoo zoo: error: ")
    for needle in [*needles, "EMOZOO_DEBUG=1"]:
        assert needle in line, line


def test_errors_of_other_libraries_say_whose(capsys, monkeypatch, no_debug):
    import csv

    monkeypatch.setattr(zoo_command, "run_backbones", _failing(csv.Error("field larger than field limit (131072)")))
    assert "_csv.Error: field larger than field limit" in _one_error_line(capsys, ["zoo", "backbones"])


@pytest.mark.parametrize(
    "argv", [["train", "--no-such-option"], ["zoo", "backbones", "--jsn"], ["zoo", "nope"], ["no-such-command"]]
)
def test_usage_errors_are_one_line(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "--help" in err, err


def test_file_errors_name_the_file(capsys, monkeypatch, no_debug, tmp_path):
    path = tmp_path / "zoo.yaml"
    monkeypatch.setattr(zoo_command, "run_list", _failing(PermissionError(13, "Permission denied", str(path))))
    line = _one_error_line(capsys, ["zoo", "list"])
    assert f"{path}: Permission denied" in line and "EMOZOO_DEBUG" not in line  # the user can act on it


def test_a_huge_message_is_cut_to_a_line(capsys, monkeypatch, no_debug):
    monkeypatch.setattr(zoo_command, "run_backbones", _failing(ValueError("x" * 10_000)))
    assert len(_one_error_line(capsys, ["zoo", "backbones"])) < 600


def test_debug_shows_the_exception(monkeypatch):
    monkeypatch.setenv("EMOZOO_DEBUG", "1")
    monkeypatch.setattr(zoo_command, "run_backbones", _failing(KeyError("input_size")))
    with pytest.raises(KeyError, match="input_size"):
        main(["zoo", "backbones"])


def test_interrupt_is_one_line(capsys, monkeypatch, no_debug):
    monkeypatch.setattr(zoo_command, "run_backbones", _failing(KeyboardInterrupt()))
    assert main(["zoo", "backbones"]) == 130
    assert capsys.readouterr().err.strip() == "emozoo zoo: interrupted"


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["train", "--print-config", "no-such-experiment"], ["no experiment 'no-such-experiment'", "smoke"]),
        (["train", "--print-config", "stages.0.epochs=nan"], ["command line", "'stages[0].epochs'", "finite"]),
        (["train", "--print-config", "optim.lr=${oc.env:HOME}"], ["command line", "resolver"]),
        (["zoo", "list", "no-such-model-*"], ["no zoo checkpoint matches"]),
        (["agreement", "/no/such/table.csv"], ["/no/such/table.csv"]),
    ],
)
def test_real_error_paths_are_one_line(capsys, no_debug, argv, needles):
    rc = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


_CRASH = (
    "import sys, emozoo.commands.zoo as z\n"
    "def boom(args):\n"
    "    raise KeyError('input_size')\n"
    "z.run_backbones = boom\n"
    "from emozoo.cli import main\n"
    "sys.exit(main(['zoo', 'backbones']))\n"
)


@pytest.mark.parametrize("debug", ["", "1"])
def test_a_crash_prints_a_traceback_only_with_debug(debug):
    env = {k: v for k, v in __import__("os").environ.items() if k != "EMOZOO_DEBUG"}
    env.update(EMOZOO_DEBUG=debug, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", _CRASH], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    assert ("Traceback" in proc.stderr) == bool(debug), proc.stderr
    if not debug:
        assert proc.stderr.strip().count("\n") == 0 and "EMOZOO_DEBUG=1" in proc.stderr
