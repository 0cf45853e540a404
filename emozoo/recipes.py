"""Running an experiment config: data check, model, one ``Trainer.fit`` per stage, the test stage, export.

``train.py`` and ``emozoo train`` call ``run_experiment``; nothing here knows about networks or metrics.

Layout of one run (``<version>`` is ``version_<n>``, or ``cfg.version``):
``runs/<name>/<version>/`` holds the resolved config, TensorBoard logs per stage and the report;
``checkpoints/<name>/<version>/<stage>/`` holds that stage's checkpoints (and ``final.ckpt`` once it is done);
``checkpoints/<name>/<version>/model/`` holds the exported model. With ``resume=auto`` the newest version is
reused: finished stages are skipped and the unfinished one continues from its newest complete checkpoint.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from emozoo.backbones.readers import read_state_dict
from emozoo.build import build_model
from emozoo.callbacks import Throughput
from emozoo.checkpointing import AtomicCheckpointIO, PruneHPCCheckpoints, newest_checkpoint
from emozoo.config import ExperimentConfig, StageConfig, to_yaml
from emozoo.data.datamodule import EmotionDataModule
from emozoo.devices import training_precision
from emozoo.errors import ConfigError
from emozoo.finetune import apply_freeze
from emozoo.model import EmotionModel
from emozoo.module import EmotionModule
from emozoo.quiet import quiet_libraries
from emozoo.zoo.format import WEIGHTS_NAME, load_checked, save_pretrained

__all__ = ["build_model", "ensure_data", "run_experiment"]


def ensure_data(cfg: ExperimentConfig) -> None:
    """Generate SynthFace shards when the config asks for them and they are missing (a no-op when complete)."""
    if cfg.data.synthface is None:
        return
    from emozoo.synthface.generate import generate_synthface

    generate_synthface(cfg.data.root, **asdict(cfg.data.synthface))


def load_weights(model: EmotionModel, source: str) -> None:
    """Initialise ``model`` from an exported model directory or a Lightning ``.ckpt`` (e.g. a pre-training run).

    Raises:
        WeightsError: the file is missing or its tensors do not match the model (names the first keys).
    """
    path = Path(source)
    if path.is_dir():
        path = path / WEIGHTS_NAME
    state = read_state_dict(path)
    state = {k.removeprefix("model."): v for k, v in state.items() if not k.startswith(("train_", "val_", "test_"))}
    load_checked(model, state, f"init_from={source}", "the configured model")


def _version(cfg: ExperimentConfig) -> str:
    if cfg.version:
        return cfg.version
    base = Path(cfg.checkpoint_dir) / cfg.name
    runs = Path(cfg.run_dir) / cfg.name
    nums = [
        int(m.group(1))
        for d in (base, runs)
        if d.is_dir()
        for p in d.iterdir()
        if (m := re.fullmatch(r"version_(\d+)", p.name))
    ]
    if cfg.resume == "auto" and nums:
        return f"version_{max(nums)}"
    return f"version_{max(nums) + 1 if nums else 0}"


def _trainer(cfg: ExperimentConfig, logger, callbacks, root: Path, **kwargs: Any) -> L.Trainer:
    t = cfg.trainer
    return L.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=training_precision(t.precision, t.accelerator),
        gradient_clip_val=t.gradient_clip_val,
        log_every_n_steps=t.log_every_n_steps,
        fast_dev_run=t.fast_dev_run,
        deterministic=t.deterministic,
        enable_progress_bar=t.enable_progress_bar,
        limit_val_batches=t.limit_val_batches,
        logger=logger,
        callbacks=callbacks,
        default_root_dir=str(root),
        plugins=[AtomicCheckpointIO()],
        enable_model_summary=False,
        **kwargs,
    )


def _module(cfg: ExperimentConfig, model: EmotionModel, lr: float | None, report_dir=None, raters=None):
    return EmotionModule(
        model,
        loss_weights=asdict(cfg.loss),
        lr=lr if lr is not None else cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        layer_decay=cfg.optim.layer_decay,
        backbone_lr_scale=cfg.optim.backbone_lr_scale,
        warmup_frac=cfg.optim.warmup_frac,
        betas=tuple(cfg.optim.betas),
        max_bad_fraction=cfg.data.max_bad_fraction,
        report_dir=report_dir,
        rater_names=raters,
        n_bootstrap=cfg.eval.n_bootstrap,
    )


def _datamodule(cfg: ExperimentConfig, model: EmotionModel, stage: StageConfig | None) -> EmotionDataModule:
    d = cfg.data
    return EmotionDataModule(
        d.root,
        model.data_config,
        train=(stage.data, stage.split) if stage else None,
        val=(stage.val_data, stage.val_split) if stage and stage.val_data else None,
        test=None if stage else (cfg.eval.data, cfg.eval.split),
        targets=stage.targets if stage else ("ratings",),
        epochs=min(1.0, stage.epochs) if stage else 1.0,
        batch_size=d.batch_size,
        eval_batch_size=d.eval_batch_size,
        num_workers=d.num_workers,
        shuffle_buffer=d.shuffle_buffer,
        augment=d.augment,
        seed=cfg.seed,
        embeddings=d.embeddings,
        cache_mb=d.cache_mb,
    )


def _fit_stage(
    cfg: ExperimentConfig,
    model: EmotionModel,
    stage: StageConfig,
    run_dir: Path,
    ckpt_dir: Path,
    resume_from: str | None,
) -> float | None:
    """Train one stage; returns its training throughput (images/s over all ranks), None if it was skipped."""
    final = ckpt_dir / "final.ckpt"
    module = _module(cfg, model, stage.lr)
    if final.is_file() and cfg.resume:
        print(f"[emozoo] stage '{stage.name}' already finished: loading {final}")
        module.load_state_dict(torch.load(final, map_location="cpu", weights_only=True)["state_dict"])
        return None
    if model.backbone is not None:
        apply_freeze(model.backbone, stage.freeze or cfg.backbone.freeze)
    dm = _datamodule(cfg, model, stage)
    logger = TensorBoardLogger(run_dir, name="", version=stage.name, default_hp_metric=False)
    every = cfg.trainer.checkpoint_every_n_steps or None
    callbacks = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="step-{step}",
            save_last=True,
            every_n_train_steps=every,
            save_top_k=1,
            monitor="step",
            mode="max",
        ),
        PruneHPCCheckpoints(ckpt_dir),
    ]
    if cfg.optim.ema_decay and not cfg.trainer.fast_dev_run:
        # Averaged weights replace the raw ones at the end of the stage (and are used for validation).
        callbacks.append(EMAWeightAveraging(decay=cfg.optim.ema_decay))
    throughput = Throughput()
    callbacks.append(throughput)
    trainer = _trainer(cfg, logger, callbacks, ckpt_dir, max_epochs=-1, num_sanity_val_steps=0)
    # Stages are measured in passes over their split; Lightning epochs are (at most) one pass each.
    per_epoch = dm.steps_per_epoch(trainer.world_size)
    trainer.fit_loop.epoch_loop.max_steps = max(1, math.ceil(stage.epochs * per_epoch))
    ckpt_path = None
    if resume_from == "auto":
        newest = newest_checkpoint(ckpt_dir)
        ckpt_path = str(newest) if newest else None
    elif resume_from:
        ckpt_path = resume_from
    print(
        f"[emozoo] stage '{stage.name}': {stage.data}/{stage.split}, targets={list(stage.targets)}, "
        f"{trainer.fit_loop.max_steps} steps" + (f", resuming from {ckpt_path}" if ckpt_path else "")
    )
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    if not cfg.trainer.fast_dev_run:
        trainer.save_checkpoint(final)
    return throughput.samples_per_second  # not callbacks[-1]: Lightning appends its progress bar to the list


def run_experiment(cfg: ExperimentConfig) -> dict[str, Any]:
    """Train every stage, evaluate, write the report and checkpoints. Returns a summary with the report path."""
    start = time.time()
    quiet_libraries()  # Lightning's tips and banners, a torch deprecation inside Lightning: see emozoo.quiet
    L.seed_everything(cfg.seed, workers=True)
    torch.set_float32_matmul_precision("high")
    if cfg.resume not in (None, "auto") and not Path(cfg.resume).is_file():
        raise ConfigError(f"resume={cfg.resume!r}: not 'auto' and not an existing checkpoint file")
    ensure_data(cfg)
    model = build_model(cfg)
    version = _version(cfg)
    run_dir = Path(cfg.run_dir) / cfg.name / version
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(to_yaml(cfg))
    ckpt_root = Path(cfg.checkpoint_dir) / cfg.name / version
    if cfg.init_from:
        load_weights(model, cfg.init_from)
    resume_from = cfg.resume
    throughput: dict[str, float | None] = {}
    for stage in cfg.stages:
        throughput[stage.name] = _fit_stage(cfg, model, stage, run_dir, ckpt_root / stage.name, resume_from)
        if resume_from not in (None, "auto"):
            resume_from = "auto"  # an explicit checkpoint applies to the first unfinished stage only
    if cfg.trainer.fast_dev_run:
        return {"run_dir": str(run_dir), "seconds": round(time.time() - start, 1)}
    tested = cfg.eval.data is not None  # None: no test pass (a chained stage); the model is still exported
    report = None
    if tested:
        dm = _datamodule(cfg, model, None)
        module = _module(cfg, model, None, report_dir=str(run_dir), raters=dm.rater_names)
        logger = TensorBoardLogger(run_dir, name="", version="test", default_hp_metric=False)
        trainer = _trainer(cfg, logger, [], ckpt_root)
        trainer.test(module, datamodule=dm)
        report = module.report  # rank 0 only
    summary: dict[str, Any] = {"run_dir": str(run_dir), "seconds": round(time.time() - start, 1)}
    summary["train_images_per_second"] = throughput
    if rank_zero_only.rank == 0 and (report is not None or not tested):
        export_dir = ckpt_root / "model"
        save_pretrained(model, export_dir, report=report, experiment=cfg.name)
        if report is not None:
            summary["report"] = str(run_dir / "report.json")
        summary["model_dir"] = str(export_dir)
        if report is not None:
            summary["mean_spearman"] = report["model"]["mean_spearman"]
            summary["random_mean_spearman"] = report["random"]["mean_spearman"]
            summary["raters_loo_mean_spearman"] = report["raters"]["loo_mean_spearman"]
            summary["spearman_ci"] = report["model"]["spearman_ci"]
            summary["kappa_model_human"] = report["kappa"]["model_human"]["mean"]
            summary["kappa_human_human"] = report["kappa"]["human_human"]["mean"]
            summary["alpha_humans"] = report["alpha"]["mean"]
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
