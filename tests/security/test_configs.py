"""Experiment files and overrides are untrusted: no resolver reads the environment or a file, no number is NaN/inf.

Every refusal is a ``ConfigError`` that names the file (or the command line) and the key, and never the secret.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from emozoo.config import load_config
from emozoo.errors import ConfigError

SECRET = "s3cr3t-token-value"


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("EMOZOO_TEST_SECRET", SECRET)


def _refused(match: str, experiment: str | None = None, overrides: list[str] | None = None) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        load_config(experiment, overrides)
    message = str(info.value)
    assert SECRET not in message and "\n" not in message
    return message


@pytest.mark.parametrize(
    ("yaml", "key"),
    [
        ("name: ${oc.env:EMOZOO_TEST_SECRET}\n", "name"),
        ("name: run-${oc.env:EMOZOO_TEST_SECRET}-x\n", "name"),  # inside a longer string
        ("backbone:\n  pretrained: ${ oc.env:EMOZOO_TEST_SECRET}\n", "backbone.pretrained"),
        ("stages:\n  - name: ${oc.env:EMOZOO_TEST_SECRET}\n", "stages[0].name"),
        ("backbone:\n  model_args:\n    path: \"${oc.decode:'[1, 2]'}\"\n", "backbone.model_args.path"),
        ("name: ${emozoo_test_reader:/etc/passwd}\n", "name"),  # any resolver a library registered
        ("defaults: ['backbone/${oc.env:EMOZOO_TEST_SECRET}']\n", "defaults[0]"),
    ],
)
def test_resolvers_in_experiment_files_are_refused(tmp_path, yaml, key):
    if not OmegaConf.has_resolver("emozoo_test_reader"):  # register_resolver is OmegaConf 2.4's name for it
        register = getattr(OmegaConf, "register_resolver", None) or OmegaConf.register_new_resolver
        register("emozoo_test_reader", lambda p: Path(p).read_text())
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml)
    message = _refused("resolver", str(exp))
    assert str(exp) in message and f"'{key}'" in message


@pytest.mark.parametrize("override", ["name=${oc.env:EMOZOO_TEST_SECRET}", "optim.lr=${oc.env:EMOZOO_TEST_SECRET}"])
def test_resolvers_in_overrides_are_refused(override):
    message = _refused("resolver", None, [override])
    assert message.startswith("command line:") and override.split("=")[0] in message


def test_plain_references_between_keys_still_work(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text("optim:\n  lr: 0.5\nstages:\n  - name: only\n    lr: ${optim.lr}\n")
    assert load_config(str(exp)).stages[0].lr == 0.5


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("stages.0.epochs=nan", "stages[0].epochs"),
        ("optim.lr=nan", "optim.lr"),
        ("optim.lr=inf", "optim.lr"),
        ("optim.lr=-inf", "optim.lr"),
        ("head.dropout=NaN", "head.dropout"),
        ("optim.betas=[0.9,nan]", "optim.betas[1]"),
        ("backbone.crop_pct=nan", "backbone.crop_pct"),
    ],
)
def test_nan_and_inf_overrides_are_refused(override, key):
    message = _refused("finite number", None, [override])
    assert message.startswith("command line:") and f"'{key}'" in message


def test_nan_in_a_file_names_the_file_and_key(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text("optim:\n  lr: .nan\nstages:\n  - epochs: .inf\n")
    message = _refused("finite number", str(exp))
    assert message.startswith(f"{exp}:") and "'optim.lr'" in message


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("optim.lr=0", "optim.lr must be > 0"),
        ("optim.lr=-1e-3", "optim.lr must be > 0"),
        ("stages.0.lr=-1", "stages[0].lr must be > 0"),
        ("head.dropout=1.5", "head.dropout in [0, 1)"),
        ("optim.warmup_frac=2", "optim.warmup_frac in [0, 1]"),
    ],
)
def test_out_of_range_numbers_name_the_key(override, needle):
    message = _refused("must be", None, [override])
    assert needle in message and "default.yaml" in message  # the layers the value came through


def test_a_missing_default_config_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "experiment").mkdir()
    monkeypatch.setenv("EMOZOO_CONFIG_DIR", str(tmp_path))
    message = _refused("default config is missing", None, None)
    assert str(tmp_path / "default.yaml") in message


def test_an_unknown_experiment_name_lists_the_known_ones():
    message = _refused("no experiment 'smok'", "smok")
    assert "did you mean 'smoke'" in message


def test_the_cli_never_prints_the_secret(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "emozoo.cli", "train", "--print-config", "name=${oc.env:EMOZOO_TEST_SECRET}"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=120,
    )
    assert proc.returncode == 2 and SECRET not in proc.stdout + proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "resolver" in proc.stderr, proc.stderr
