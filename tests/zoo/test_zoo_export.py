"""``emozoo zoo export``: a Lightning checkpoint written by a real Trainer becomes a save_pretrained folder whose
weights equal the module's, with the model config from the checkpoint or from the run's config.yaml."""

from __future__ import annotations

import json
import pickle

import lightning as L
import pytest
import torch

import emozoo
from emozoo.cli import main
from emozoo.config import load_config, to_yaml
from emozoo.errors import WeightsError
from emozoo.module import EmotionModule
from emozoo.recipes import build_model
from emozoo.zoo.export import export_checkpoint
from emozoo.zoo.format import model_record


class _OneBatch(torch.utils.data.IterableDataset):
    def __init__(self, shape):
        self.shape = shape

    def __iter__(self):
        b = 4
        yield {
            "image": torch.randn(b, *self.shape),
            "intensity": torch.rand(b, 40) * 7,
            "intensity_mask": torch.ones(b, 40, dtype=torch.bool),
            "binary_yes": torch.zeros(b, 40),
            "binary_n": torch.zeros(b, 40),
            "distribution": torch.full((b, 40), 1 / 40),
            "distribution_mask": torch.ones(b, dtype=torch.bool),
            "num_samples": b,
        }


def _trained_checkpoint(path, cfg):
    """Fit one step with a real Trainer and save its checkpoint at ``path``; returns the module."""
    torch.manual_seed(0)
    module = EmotionModule(build_model(cfg))
    trainer = L.Trainer(
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, accelerator="cpu",
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, torch.utils.data.DataLoader(_OneBatch(module.model.data_config.input_size), batch_size=None))
    path.parent.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(path)
    return module


def _cfg():
    return load_config("smoke", ["backbone.img_size=32", "backbone.model_args={widths: [8, 16]}"])


def _assert_same(module, loaded):
    own, got = module.model.state_dict(), loaded.state_dict()
    assert own.keys() == got.keys() and all(torch.equal(own[k], got[k]) for k in own)


def test_export_finds_the_run_config_and_report(tmp_path, capsys):
    cfg = _cfg()
    ckpt = tmp_path / "checkpoints" / "smoke" / "version_0" / "finetune-binary" / "final.ckpt"
    module = _trained_checkpoint(ckpt, cfg)
    run = tmp_path / "runs" / "smoke" / "version_0"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(to_yaml(cfg))
    report = {"model": {"mean_spearman": 0.4321}, "random": {"mean_spearman": 0.0}, "raters": {}}
    (run / "report.json").write_text(json.dumps(report))
    assert main(["zoo", "export", str(tmp_path / "checkpoints" / "smoke" / "version_0"), str(tmp_path / "out")]) == 0
    assert "exported" in capsys.readouterr().out
    loaded = emozoo.load_model(tmp_path / "out")
    _assert_same(module, loaded)
    assert loaded.data_config == module.model.data_config
    assert "0.4321" in (tmp_path / "out" / "README.md").read_text()


def test_export_uses_the_metadata_in_the_checkpoint(tmp_path):
    ckpt = tmp_path / "anywhere" / "x.ckpt"
    module = _trained_checkpoint(ckpt, _cfg())
    data = torch.load(ckpt, weights_only=True)
    # EmotionModule.on_save_checkpoint stores the model description (see emozoo.zoo.format.model_record)
    assert data["emozoo"] == model_record(module.model)
    export_checkpoint(ckpt, tmp_path / "out")
    _assert_same(module, emozoo.load_model(tmp_path / "out"))
    # A checkpoint without it (written by other code) needs --config, and says so.
    del data["emozoo"]
    torch.save(data, ckpt)
    with pytest.raises(WeightsError, match="does not say which model.*--config"):
        export_checkpoint(ckpt, tmp_path / "out2")
    _assert_same(module, emozoo.load_model(tmp_path / "out"))


def test_export_refuses_unsafe_or_foreign_checkpoints(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.ckpt"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("touch PWNED",))

    evil.write_bytes(pickle.dumps({"state_dict": Evil()}))
    with pytest.raises(WeightsError, match="refused to load"):
        export_checkpoint(evil, tmp_path / "out")
    assert not (tmp_path / "PWNED").exists()
    torch.save({"state_dict": {"other.weight": torch.zeros(1)}, "emozoo": {"model": {}}}, tmp_path / "f.ckpt")
    with pytest.raises(WeightsError, match=r"no 'model\.\*' keys"):
        export_checkpoint(tmp_path / "f.ckpt", tmp_path / "out")
