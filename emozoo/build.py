"""The network an experiment config describes: ``build_model(cfg)``, shared by training and ``emozoo zoo export``.

It sits below both (no Lightning here): training wraps the model in an ``EmotionModule``; export only needs the
model record to rebuild a checkpoint's network.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from emozoo.config import ExperimentConfig
from emozoo.finetune import apply_freeze, maybe_compile
from emozoo.model import EmotionModel, create_model

__all__ = ["build_model"]


def _head_args(cfg: ExperimentConfig) -> dict[str, Any]:
    if cfg.head.hidden_dims is not None:  # only the per-emotion head takes a list of widths
        return {"hidden_dims": list(cfg.head.hidden_dims), "dropout": cfg.head.dropout}
    return {"hidden_dim": cfg.head.hidden_dim, "dropout": cfg.head.dropout}


def build_model(cfg: ExperimentConfig) -> EmotionModel:
    """The model of ``cfg``: backbone (with its weights), head, preprocessing, freezing and compilation."""
    backbone_args = dict(cfg.backbone.model_args)
    if cfg.backbone.img_size:
        backbone_args["img_size"] = cfg.backbone.img_size
    model = create_model(
        cfg.backbone.name,
        cfg.head.name,
        pretrained=cfg.backbone.pretrained,
        impl=cfg.backbone.impl,
        backbone_args=backbone_args,
        head_args=_head_args(cfg),
    )
    if model.backbone is not None and cfg.backbone.crop_pct is not None:
        # Part of the model's preprocessing, so it is saved with the model and `emozoo predict` applies it too.
        model.backbone.data_config = replace(
            model.backbone.data_config, crop_pct=cfg.backbone.crop_pct, crop_mode="center"
        )
        model.config["crop_pct"] = cfg.backbone.crop_pct
    if model.backbone is not None:
        apply_freeze(model.backbone, cfg.backbone.freeze)
        if cfg.backbone.grad_checkpointing:
            model.backbone.set_grad_checkpointing(True)
        if cfg.backbone.compile:
            model.backbone = maybe_compile(model.backbone, True)
    return model
