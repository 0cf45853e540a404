"""The wheel is the project: built from this tree, installed into a fresh venv and run outside the checkout.

The venv gets only the wheel. Its dependencies (torch, Lightning, ...) come from this interpreter's site-packages
through a ``.pth`` line: a directory named in a ``.pth`` file is put on ``sys.path`` but its own ``.pth`` files are
not run, so the checkout's editable install (a ``.pth`` hook there) cannot leak in. The test checks that anyway,
by asking the installed ``emozoo`` where it lives.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.conftest import tiny_run_overrides

REPO = Path(__file__).resolve().parents[1]
# Building the wheel and starting fresh interpreters that import torch: minutes on a busy 2-core box.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(the fresh venv with the wheel built from this tree, the environment to run it in, a folder outside)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # only what the build reads: a stray build/ or egg-info in the checkout must not matter
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "emozoo", src / "emozoo", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EMOZOO_CONFIG_DIR", "EMOZOO_ZOO")}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    build = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp / "dist"), str(src)]
    _run([*pip, *build], tmp, env)
    wheel = next((tmp / "dist").glob("emozoo-*.whl"))

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, env)
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env)
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    Path(purelib.stdout.strip(), "_project_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    _run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], tmp, env)
    work = tmp / "elsewhere"  # no configs/ or checkpoints/ here: everything must come from the package
    work.mkdir()
    return venv, env, work


def test_the_installed_package_is_the_wheel(installed):
    venv, env, work = installed
    probe = "import emozoo, emozoo.zoo; print(emozoo.__file__); print(len(emozoo.zoo.list_checkpoints()))"
    where, count = _run([str(venv / "bin" / "python"), "-c", probe], work, env).stdout.split()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where
    assert int(count) >= 3  # the shipped manifest: both Empathic-Insight releases and the demo


def test_print_config_is_the_demo_not_the_dataclass_defaults(installed):
    venv, env, work = installed
    out = _run([str(venv / "bin" / "emozoo"), "train", "--print-config"], work, env).stdout
    shipped = yaml.safe_load((REPO / "emozoo" / "configs" / "default.yaml").read_text())
    size = shipped["backbone"]["img_size"]
    assert "name: cnn-tiny" in out and f"img_size: {size}" in out and "name: synthface-demo" in out, out


def test_zoo_list_reads_the_shipped_manifest(installed):
    venv, env, work = installed
    out = _run([str(venv / "bin" / "emozoo"), "zoo", "list"], work, env).stdout
    assert "empathic-insight-face-large" in out and "synthface-demo" in out, out


def test_the_smoke_experiment_runs_by_name(installed, tiny_data, tmp_path):
    venv, env, work = installed
    cmd = [str(venv / "bin" / "emozoo"), "train", "smoke", *tiny_run_overrides(tiny_data, tmp_path)]
    out = _run(cmd, work, env, timeout=900).stdout
    assert "[emozoo] report: " in out
    assert (tmp_path / "runs" / "smoke" / "version_0" / "report.json").is_file()
