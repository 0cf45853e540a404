"""Every shipped experiment recipe runs end to end: its stages, freezing, init_from and embedding cache.

The recipes name full-size encoders and the EmoNet releases; here each runs as written except that the encoder
is a tiny ViT (same freeze spec, same head, same stages and epochs) and the data are the tiny shard sets the tests
build. ``empathic_insight`` first embeds those shards with the tiny encoder (``emozoo embed``'s code), and
``finetune_binary``/``eval_hq`` start from an exported model, as their header commands do.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightning as L
import pytest

from emozoo.config import load_config
from emozoo.recipes import build_model, run_experiment
from emozoo.zoo import save_pretrained
from tests.conftest import tiny_run_overrides

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RECIPES = sorted(p for p in (CONFIGS / "experiment").glob("*.yaml"))
TINY_ENCODER = [
    "backbone.name=vit-tiny",
    "backbone.impl=null",
    "backbone.pretrained=null",
    "backbone.img_size=32",
    "backbone.grad_checkpointing=false",
]


def _overrides(root: Path, tmp_path: Path) -> list[str]:
    single = ["trainer.devices=1", "trainer.strategy=auto", "trainer.num_nodes=1", "eval.n_bootstrap=10"]
    return [*TINY_ENCODER, *tiny_run_overrides(root, tmp_path), *single]


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_runs_end_to_end(recipe, tiny_data, tmp_path):
    overrides = _overrides(tiny_data, tmp_path)
    cfg = load_config(str(recipe), overrides)
    if cfg.init_from:  # start from an exported model of the same architecture, as the recipe's command does
        init = tmp_path / "init-model"
        save_pretrained(build_model(cfg), init)
        overrides.append(f"init_from={init}")
    if cfg.data.embeddings:  # the Empathic-Insight layout: embed once with the frozen encoder, then train heads
        from emozoo.data.embeddings import embed_shards

        L.seed_everything(cfg.seed)  # the random-init encoder run_experiment builds: same seed, same weights
        encoder = build_model(cfg).backbone
        for subset in ("big", "binary", "hq"):
            embed_shards(tiny_data / subset, encoder, tmp_path / "emb" / subset, num_workers=0, progress=False)
        overrides.append(f"data.embeddings={tmp_path / 'emb'}")
    cfg = load_config(str(recipe), overrides)
    summary = run_experiment(cfg)
    report = json.loads(Path(summary["report"]).read_text())
    assert math.isfinite(report["model"]["mean_spearman"])
    assert len(report["model"]["per_emotion_spearman"]) == 40
    assert (Path(summary["model_dir"]) / "model.safetensors").is_file()
    assert set(summary["train_images_per_second"]) == {s.name for s in cfg.stages}
