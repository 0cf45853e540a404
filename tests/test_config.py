"""Layered configs: every shipped YAML validates; bad keys and types fail early with a helpful one-liner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from emozoo.config import ExperimentConfig, config_dir, load_config
from emozoo.config_checks import check_keys
from emozoo.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
GROUPS = {p.name: p for p in CONFIGS.iterdir() if p.is_dir() and p.name != "experiment"}


def test_default_matches_dataclass_and_yaml():
    cfg = load_config()
    assert isinstance(cfg, ExperimentConfig)
    assert config_dir().resolve() == CONFIGS.resolve()
    assert cfg.backbone.name == "cnn-tiny" and [s.targets for s in cfg.stages] == [["weak"], ["binary"]]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("experiment/*.yaml")), ids=lambda p: p.stem)
def test_every_experiment_loads(path):
    cfg = load_config(str(path))
    assert cfg.stages or cfg.init_from  # train something, or evaluate given weights
    first = path.read_text().lstrip().splitlines()[0]
    assert first.startswith("#"), f"{path} should start with the command that runs it"


@pytest.mark.parametrize(
    "path", sorted(p for g in GROUPS.values() for p in g.glob("*.yaml")), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_every_group_file_validates(path):
    group = path.parent.name
    if group == "cluster":
        from emozoo.slurm import load_cluster

        load_cluster(str(path))
    else:
        load_config(None, [f"{group}={path.stem}"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.precison=32", "Did you mean 'trainer.precision'"),
        ("lr=0.1", "Did you mean 'optim.lr'"),
        ("data.batchsize=4", "Did you mean 'data.batch_size'"),
        ("data.batch_size=abc", "data.batch_size"),
        ("stages=[]", "stages is empty and there are no weights"),
        ("notakeyvalue", "is not key=value"),
        ("stages.0.targets=[wek]", "unknown target 'wek'"),
    ],
)
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(None, [override])


def test_shorthand_and_layers(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text("defaults: [backbone/cnn-tiny]\nname: layered\noptim:\n  lr: 0.5\n")
    cfg = load_config(str(exp), ["optim.lr=0.25", "backbone.freeze=all"])
    assert (cfg.name, cfg.backbone.name, cfg.optim.lr, cfg.backbone.freeze) == ("layered", "cnn-tiny", 0.25, "all")
    assert load_config(None, ["backbone=clip-vit-l14"]).backbone.name == "clip-vit-l14"


def test_unknown_key_in_file_names_the_file(tmp_path):
    exp = tmp_path / "bad.yaml"
    exp.write_text("trainer:\n  max_epoch: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown config key 'trainer\.max_epoch'"):
        load_config(str(exp))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "missing.yaml"))


def test_check_keys_walks_lists():
    with pytest.raises(ConfigError, match=r"stages\[1\]\.epoch"):
        check_keys(OmegaConf.create({"stages": [{"epochs": 1}, {"epoch": 2}]}), ExperimentConfig, "x")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["trainer.precison=32"], "Did you mean 'trainer.precision'"),
        (["data.root=/nonexistent/shards", "data.synthface=null"], "shard directory not found"),
    ],
)
def test_cli_errors_are_one_line(args, needle, tmp_path):
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(repo / "train.py"), *args, f"run_dir={tmp_path}", f"checkpoint_dir={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("emozoo train: error:")]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
