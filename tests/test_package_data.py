"""Configs and the zoo manifest are package data: one copy in the repo, found from any working folder."""

from __future__ import annotations

from pathlib import Path

import yaml

import emozoo
from emozoo.config import BackboneConfig, ExperimentConfig, config_dir, load_config
from emozoo.resources import packaged_path
from emozoo.zoo.manifest import get_entry, manifest_paths

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(emozoo.__file__).resolve().parent


def test_the_checkout_paths_are_links_into_the_package():
    assert (REPO / "configs").is_symlink() and (REPO / "configs").resolve() == REPO / "emozoo" / "configs"
    zoo = REPO / "checkpoints" / "zoo.yaml"
    assert zoo.is_symlink() and zoo.resolve() == REPO / "emozoo" / "assets" / "zoo.yaml"


def test_outside_a_checkout_the_packaged_files_are_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOZOO_CONFIG_DIR", raising=False)
    monkeypatch.delenv("EMOZOO_ZOO", raising=False)
    assert config_dir() == packaged_path("configs") == PACKAGE / "configs"
    cfg = load_config()
    shipped = yaml.safe_load((PACKAGE / "configs" / "default.yaml").read_text())  # not the dataclass defaults
    assert (cfg.name, cfg.backbone.name) == ("synthface-demo", "cnn-tiny") != (ExperimentConfig().name, "vit-tiny")
    assert cfg.backbone.img_size == shipped["backbone"]["img_size"] != BackboneConfig().img_size
    assert load_config("smoke").name == "smoke"
    assert manifest_paths() == [PACKAGE / "assets" / "zoo.yaml"]


def test_a_local_configs_folder_takes_precedence(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "default.yaml").write_text("name: mine\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOZOO_CONFIG_DIR", raising=False)
    assert load_config().name == "mine"


def test_relative_sources_of_the_packaged_manifest_are_under_checkpoints(tmp_path, monkeypatch):
    """Training writes to ./checkpoints; the shipped manifest's ``synthface-demo`` entry must find it there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOZOO_ZOO", raising=False)
    entry = get_entry("synthface-demo")
    assert entry.local_path() is None
    model = tmp_path / "checkpoints" / "synthface-demo" / "version_0" / "model"
    model.mkdir(parents=True)
    assert entry.local_path().resolve() == model.resolve()
