"""``emozoo zoo backbones`` prints the registry; ``list``/``export`` are hooks until the checkpoint zoo lands."""

from __future__ import annotations

import json

from emozoo.backbones import list_backbones
from emozoo.cli import main


def test_backbones_table(capsys):
    assert main(["zoo", "backbones"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["name", "impl", "(*default)"]
    for name in list_backbones():
        assert any(line.startswith(name + " ") for line in lines), name
    row = next(line for line in lines if line.startswith("siglip2-so400m-16-384 "))
    for cell in ("timm*, hf", "428.3M", "1152", "384x384", "squash bicubic", "vit_so400m_patch16_siglip_384.v2_webli"):
        assert cell in row
    row = next(line for line in lines if line.startswith("clip-vit-l14-336 "))
    assert "timm*, open_clip" in row and "768" in row and "336x336" in row and "crop 1 bicubic" in row


def test_backbones_json_and_pattern(capsys):
    assert main(["zoo", "backbones", "clip-*", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == list_backbones("clip-*")
    assert rows[0]["num_features"] == 512 and rows[0]["impls"] == ["timm", "open_clip"]


def test_backbones_no_match(capsys):
    assert main(["zoo", "backbones", "resnet-*"]) == 2
    assert "no backbone matches" in capsys.readouterr().err


def test_zoo_without_subcommand_prints_help(capsys):
    assert main(["zoo"]) == 2
    assert "backbones" in capsys.readouterr().out
