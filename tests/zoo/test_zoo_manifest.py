"""The checkpoint manifest: the shipped entries name real registry entries, presence is checked offline (local
folders and the HF cache), zoo names load, and mistakes in a manifest are reported with the key and file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import emozoo
import emozoo.zoo
from emozoo.backbones import BACKBONES
from emozoo.cli import main
from emozoo.errors import ConfigError, WeightsError
from emozoo.heads import HEADS
from emozoo.zoo.empathic import SIZES
from emozoo.zoo.manifest import manifest_paths, zoo_registry

from .conftest import release_files, write_release

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "zoo.yaml"


def test_shipped_manifest_entries_are_valid():
    registry = zoo_registry([SHIPPED])
    assert {"empathic-insight-face-large", "empathic-insight-face-small", "synthface-demo"} <= set(registry.names())
    for name, entry in registry.items():
        assert entry.backbone in BACKBONES and entry.head in HEADS, name
        if entry.format == "empathic-insight":
            assert entry.size in SIZES and entry.encoder == "hf-hub:google/siglip2-so400m-patch16-384"
            assert entry.source == f"hf-hub:laion/Empathic-Insight-Face-{entry.size.capitalize()}"
    assert not registry.get("synthface-demo").released


def test_list_checkpoints_sees_the_hf_cache(tmp_path, hub_cache):
    rows = {r["name"]: r for r in emozoo.zoo.list_checkpoints()}
    assert rows["empathic-insight-face-large"]["present"] is False
    assert rows["empathic-insight-face-large"]["encoder_present"] is False
    write_release(tmp_path / "rel", SIZES["small"], width=4, extras=False)
    hub_cache("laion/Empathic-Insight-Face-Small", release_files(tmp_path / "rel"))
    small = emozoo.zoo.list_checkpoints("empathic-insight-face-small")
    assert len(small) == 1 and small[0]["present"] is True and small[0]["location"] == "hf-cache"
    for key in ("name", "backbone", "head", "source", "present"):
        assert key in small[0]


def _extra_manifest(tmp_path, monkeypatch, text: str) -> Path:
    path = tmp_path / "extra.yaml"
    path.write_text(text)
    monkeypatch.setenv("EMOZOO_ZOO", str(path))
    return path


def test_local_entry_loads_by_name_and_lists(tmp_path, monkeypatch, tiny_model_dir, capsys):
    runs = tmp_path / "runs" / "version_3"
    runs.parent.mkdir(parents=True)
    tiny_model_dir.rename(runs)
    _extra_manifest(tmp_path, monkeypatch, "checkpoints:\n  my-demo:\n    format: emozoo\n"
                    "    source: runs/version_*\n    backbone: cnn-tiny\n    head: mlp\n")  # fmt: skip
    assert manifest_paths()[-1] == tmp_path / "extra.yaml"
    model = emozoo.load_model("my-demo")
    assert model.config["backbone"] == "cnn-tiny"
    assert main(["zoo", "list"]) == 0
    table = capsys.readouterr().out
    line = next(row for row in table.splitlines() if row.startswith("my-demo"))
    assert "runs/version_*" in line and line.split()[-2] == "yes"  # present
    assert main(["zoo", "list", "my-*", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == ["my-demo"] and rows[0]["location"] == str(runs)


def test_unknown_names_and_bad_entries(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="Did you mean: empathic-insight-face-large"):
        emozoo.load_model("empathic-insight-face-larg")
    path = _extra_manifest(tmp_path, monkeypatch, "checkpoints:\n  x:\n    format: emozoo\n    sorce: a/b\n")
    with pytest.raises(ConfigError, match=rf"{path}: checkpoints.x: unknown key 'sorce'; did you mean 'source'"):
        zoo_registry()
    _extra_manifest(tmp_path, monkeypatch, "checkpoints:\n  synthface-demo:\n    format: emozoo\n    source: a\n")
    with pytest.raises(ConfigError, match="'synthface-demo' is already defined"):
        zoo_registry()
    _extra_manifest(tmp_path, monkeypatch, "checkpoints:\n  x:\n    format: onnx\n    source: a\n")
    with pytest.raises(ConfigError, match="format is 'onnx'; valid: emozoo, empathic-insight"):
        zoo_registry()


def test_unreleased_local_entry_says_what_to_do(tmp_path, monkeypatch):
    _extra_manifest(tmp_path, monkeypatch, "checkpoints:\n  later:\n    format: emozoo\n    source: nothing/*\n")
    with pytest.raises(WeightsError, match="no folder matches nothing/.*not released: train it first"):
        emozoo.load_model("later")
