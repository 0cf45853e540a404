"""SigLIP2 through Hugging Face ``transformers`` (optional extra ``emozoo[transformers]``).

The published Empathic-Insight heads were trained on ``SiglipModel.get_image_features`` of
``google/siglip2-so400m-patch16-384``: the pooler output of the vision model (the attention-pool head), raw and
not normalised. This backbone returns exactly that tensor, from the vision tower alone; checkpoints in the
``google/siglip2-*`` layout (``config.json`` + ``model.safetensors`` of the full model) load with the text
tower's keys skipped.

The architecture comes from the registry entry's timm counterpart (built on the ``meta`` device, no memory), so
no ``config.json`` needs to be downloaded to build the model; a checkpoint's ``config.json`` is checked against it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emozoo.backbones.base import Backbone, BackboneSpec, DataConfig
from emozoo.backbones.convert import HF_TEXT_KEYS, HF_VISION_PREFIX, split_prefix
from emozoo.backbones.preprocess import resolve_data_config, with_img_size
from emozoo.errors import WeightsError

__all__ = ["HfSiglipBackbone", "build_hf", "hf_vision_config_from_timm"]

# The fields that decide parameter shapes and the computation; a checkpoint's config must agree on these.
_ARCH_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "patch_size",
    "image_size",
    "num_channels",
    "hidden_act",
    "vision_use_head",
)
_PIL_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}


def _transformers():
    try:
        import transformers
    except ImportError as err:
        raise ImportError(
            "impl=hf needs Hugging Face transformers: pip install 'emozoo[transformers]' (or transformers>=4.49)"
        ) from err
    return transformers


@cache
def _timm_arch(timm_name: str) -> tuple[tuple[str, Any], ...]:
    import timm

    with torch.device("meta"):  # shapes only: no memory, no init
        m = timm.create_model(timm_name, pretrained=False, num_classes=0)
    block = m.blocks[0]
    return (
        ("hidden_size", int(m.embed_dim)),
        ("intermediate_size", int(block.mlp.fc1.out_features)),
        ("num_hidden_layers", len(m.blocks)),
        ("num_attention_heads", int(block.attn.num_heads)),
        ("patch_size", int(m.patch_embed.patch_size[0])),
        ("image_size", int(m.patch_embed.img_size[0])),
        ("layer_norm_eps", float(m.norm.eps)),
    )


def hf_vision_config_from_timm(timm_name: str) -> dict[str, Any]:
    """``SiglipVisionConfig`` fields of the timm SigLIP model ``timm_name`` (same architecture, other layout)."""
    return dict(_timm_arch(timm_name))


class HfSiglipBackbone(Backbone):
    """The vision tower of an HF ``SiglipModel``; the embedding is ``get_image_features`` (pooler output).

    Args:
        vision_config: ``SiglipVisionConfig`` fields.
        name: emozoo registry name.
        data_config: preprocessing until a checkpoint's ``preprocessor_config.json`` says otherwise.
    """

    impl = "hf"

    def __init__(self, vision_config: dict[str, Any], name: str = "", data_config: DataConfig | None = None):
        super().__init__()
        _transformers()
        from transformers import SiglipVisionConfig, SiglipVisionModel

        self.config = SiglipVisionConfig(**vision_config)
        model = SiglipVisionModel(self.config)
        # transformers 4.x wraps the tower in `.vision_model`; 5.x's SiglipVisionModel is the tower. Holding it
        # as `vision_model` gives the keys of the google/siglip2-* checkpoints (`vision_model.*`) in both.
        self.vision_model = getattr(model, "vision_model", model)
        self._hf_model = [model]  # a list, so its parameters are not registered twice
        self.name = name
        self.num_features = int(self.config.hidden_size)
        size = self.config.image_size
        # SiglipImageProcessor's defaults: resize to the square input (no crop), bicubic, mean = std = 0.5
        self.data_config = data_config or DataConfig(input_size=(3, size, size), crop_mode="squash")

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.vision_model(pixel_values=images).pooler_output

    def blocks(self) -> list[nn.Module]:
        return list(self.vision_model.encoder.layers)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        model = self._hf_model[0]
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 (the old name is deprecated)
            if enable:
                model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
            else:
                model.activation_checkpointing_disable()
        elif enable:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_disable()

    def adapt_state_dict(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Accept a full ``SiglipModel`` checkpoint (text tower skipped) or a bare vision model's keys."""
        if any(k.startswith(HF_VISION_PREFIX) for k in state_dict):
            sd = split_prefix(state_dict, HF_VISION_PREFIX, drop=HF_TEXT_KEYS)
        else:
            sd = dict(state_dict)
        return {HF_VISION_PREFIX + k: v for k, v in sd.items()}

    def update_from_checkpoint_dir(self, directory: str | Path) -> None:
        """Check ``config.json`` against the built architecture; take ``preprocessor_config.json`` if present."""
        directory = Path(directory)
        config_path = directory / "config.json"
        if config_path.is_file():
            self._check_config(config_path)
        pp_path = directory / "preprocessor_config.json"
        if pp_path.is_file():
            pp = json.loads(pp_path.read_text())
            size = pp.get("size") or {}
            h = size.get("height", size.get("shortest_edge", self.data_config.input_size[1]))
            w = size.get("width", size.get("shortest_edge", self.data_config.input_size[2]))
            self.data_config = replace(
                self.data_config,
                input_size=(3, int(h), int(w)),
                mean=tuple(float(v) for v in pp.get("image_mean", self.data_config.mean)),
                std=tuple(float(v) for v in pp.get("image_std", self.data_config.std)),
                interpolation=_PIL_RESAMPLE.get(pp.get("resample"), self.data_config.interpolation),
                crop_pct=1.0,
                crop_mode="squash",  # SiglipImageProcessor resizes to (height, width): no crop
            )

    def _check_config(self, path: Path) -> None:
        from transformers import SiglipVisionConfig

        cfg = json.loads(path.read_text())
        model_type = cfg.get("model_type", "")
        if model_type == "siglip2":
            raise WeightsError(
                f"{path}: a SigLIP2 NaFlex checkpoint (model_type 'siglip2'); impl=hf loads the fixed-resolution "
                "ones (model_type 'siglip'), e.g. google/siglip2-so400m-patch16-384"
            )
        vision = cfg.get("vision_config", cfg) if model_type == "siglip" else cfg
        theirs = SiglipVisionConfig(**{k: v for k, v in vision.items() if k in _ARCH_FIELDS})
        diffs = [
            f"{k}={getattr(theirs, k)!r} (backbone has {getattr(self.config, k)!r})"
            for k in _ARCH_FIELDS
            if getattr(theirs, k) != getattr(self.config, k)
        ]
        if diffs:
            raise WeightsError(
                f"{path} describes another architecture than backbone {self.name!r}: {'; '.join(diffs)}. "
                "Pick the matching registry entry or pass these as backbone kwargs."
            )


def build_hf(spec: BackboneSpec, **kwargs: Any) -> HfSiglipBackbone:
    args = spec.args_for("hf", **kwargs)
    if "depth" in args:  # the name every implementation understands
        args["num_hidden_layers"] = args.pop("depth")
    if "img_size" in args:
        args["image_size"] = args.pop("img_size")
    config = {**hf_vision_config_from_timm(spec.model_names["timm"]), **args}
    cfg = resolve_data_config(spec.preprocess) if spec.preprocess else None
    if cfg is not None:
        cfg = with_img_size(cfg, config["image_size"])
    return HfSiglipBackbone(config, name=spec.name, data_config=cfg)
