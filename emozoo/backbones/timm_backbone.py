"""Backbones built with ``timm``; preprocessing comes from timm's own pretrained config."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import timm
import torch
from torch import nn

from emozoo.backbones.base import Backbone, BackboneSpec, DataConfig

__all__ = ["TimmBackbone", "build_timm"]


def _timm_data_config(model: nn.Module) -> DataConfig:
    cfg = timm.data.resolve_model_data_config(model)
    pcfg = getattr(model, "pretrained_cfg", {}) or {}
    # timm encodes "squash" (SigLIP) as crop_mode="squash"; everything else is a centre crop.
    crop_mode = "squash" if cfg.get("crop_mode") == "squash" else "center"
    return DataConfig(
        input_size=tuple(int(v) for v in cfg["input_size"]),
        mean=tuple(float(v) for v in cfg["mean"]),
        std=tuple(float(v) for v in cfg["std"]),
        interpolation=str(cfg.get("interpolation", pcfg.get("interpolation", "bicubic"))),
        crop_pct=float(cfg.get("crop_pct", 1.0)),
        crop_mode=crop_mode,
    )


class TimmBackbone(Backbone):
    """Any timm model with its classifier removed; the pooled pre-logits are the embedding.

    Args:
        model_name: timm architecture name.
        name: emozoo registry name.
        **model_args: passed to ``timm.create_model`` (e.g. ``img_size``, ``depth``).
    """

    def __init__(self, model_name: str, name: str = "", **model_args: Any):
        super().__init__()
        self.name = name or model_name
        self.model = timm.create_model(model_name, pretrained=False, num_classes=0, **model_args)
        self.num_features = int(self.model.num_features)
        self.data_config = _timm_data_config(self.model)
        if "img_size" in model_args:  # timm keeps the pretrained cfg's size; the model runs at the new one
            size = model_args["img_size"]
            h, w = (size, size) if isinstance(size, int) else size
            self.data_config = replace(self.data_config, input_size=(3, int(h), int(w)))

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def blocks(self) -> list[nn.Module]:
        for attr in ("blocks", "stages", "layers"):
            seq = getattr(self.model, attr, None)
            if isinstance(seq, (nn.Sequential, nn.ModuleList)):
                return list(seq)
        return []

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.model.set_grad_checkpointing(enable)


def build_timm(spec: BackboneSpec, **kwargs: Any) -> TimmBackbone:
    args = {**spec.model_args, **kwargs}
    return TimmBackbone(spec.model_names["timm"], name=spec.name, **args)
