"""Backbones built with ``open_clip``: the vision tower only.

The tower is built straight from open_clip's model config (``open_clip.model._build_vision_tower``), so the text
tower is never created: for ViT-L/14 that is 123M parameters and a 49k-token embedding table not held in memory.
The embedding is the tower's output, i.e. the image embedding in the joint image-text space (the projection
``visual.proj`` included), the same as ``CLIP.encode_image`` without normalisation.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from emozoo.backbones.base import Backbone, BackboneSpec, DataConfig
from emozoo.backbones.convert import OPEN_CLIP_TEXT_KEYS, split_prefix
from emozoo.backbones.preprocess import (
    data_config_from_open_clip,
    open_clip_pretrained_cfg,
    resolve_data_config,
    with_img_size,
)

__all__ = ["OpenClipBackbone", "build_open_clip", "open_clip_tag"]

_PREFIX = "visual."


def open_clip_tag(model_name: str, hub_id: str) -> str:
    """The open_clip pretrained tag of ``model_name`` whose weights live in the HF repo ``hub_id``."""
    import open_clip

    tags = open_clip.list_pretrained_tags_by_model(model_name)
    for tag in tags:
        if open_clip.get_pretrained_cfg(model_name, tag).get("hf_hub", "").strip("/") == hub_id.strip("/"):
            return tag
    raise ValueError(f"no open_clip tag of {model_name!r} has its weights in {hub_id!r}; tags: {tags}")


class OpenClipBackbone(Backbone):
    """An open_clip vision tower.

    Args:
        model_name: open_clip model config name (``ViT-B-16-quickgelu``).
        tag: pretrained tag, for QuickGELU and preprocessing (``openai``).
        name: emozoo registry name.
        data_config: preprocessing; default: open_clip's record for ``model_name``/``tag``.
        **vision_args: overrides of ``vision_cfg`` (``layers``, ``width``, ``image_size``, ...); ``depth`` and
            ``img_size`` are accepted as the names the other implementations use.
    """

    impl = "open_clip"
    final_param_names = ("visual.proj",)  # registered on the tower itself, applied after ln_post

    def __init__(
        self, model_name: str, tag: str = "", name: str = "", data_config: DataConfig | None = None, **vision_args
    ):
        super().__init__()
        import open_clip
        from open_clip.model import _build_vision_tower

        model_cfg = open_clip.get_model_config(model_name)
        if model_cfg is None:
            raise ValueError(f"open_clip has no model config {model_name!r}")
        vision_cfg = dict(model_cfg["vision_cfg"])
        if "depth" in vision_args:
            vision_args["layers"] = vision_args.pop("depth")
        if "img_size" in vision_args:
            vision_args["image_size"] = vision_args.pop("img_size")
        if vision_cfg.get("timm_model_name") and vision_args.keys() - {"image_size"}:
            raise ValueError(f"{model_name} has a timm trunk; use impl=timm to change {sorted(vision_args)}")
        vision_cfg.update(vision_args)
        # OpenAI weights were trained with QuickGELU; open_clip records it on the config of the `-quickgelu`
        # names and on the pretrained tag. Either one switches it on (what `force_quick_gelu` does).
        pcfg = open_clip_pretrained_cfg(model_name, tag) if tag else {}
        self.quick_gelu = bool(model_cfg.get("quick_gelu", False) or pcfg.get("quick_gelu", False))
        self.visual = _build_vision_tower(model_cfg["embed_dim"], vision_cfg, quick_gelu=self.quick_gelu)
        self.name = name or model_name
        self.num_features = int(model_cfg["embed_dim"])
        cfg = data_config or data_config_from_open_clip(model_name, tag)
        self.data_config = with_img_size(cfg, vision_args.get("image_size"))

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.visual(images)

    def blocks(self) -> list[nn.Module]:
        transformer = getattr(self.visual, "transformer", None)
        if transformer is not None:
            return list(transformer.resblocks)
        trunk = getattr(self.visual, "trunk", None)  # timm trunk
        return list(getattr(trunk, "blocks", []))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual.set_grad_checkpointing(enable)

    def adapt_state_dict(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Accept a full open_clip checkpoint (text tower dropped) or the tower's own keys."""
        keys = list(state_dict)
        if any(k.startswith("module.") for k in keys):  # saved from DDP
            state_dict = split_prefix(state_dict, "module.")
        if any(k.startswith(_PREFIX) for k in state_dict):
            sd = {k: v for k, v in state_dict.items() if not k.startswith(OPEN_CLIP_TEXT_KEYS)}
        else:
            sd = {_PREFIX + k: v for k, v in state_dict.items()}
        self._resample_pos_embed(sd)
        return sd

    def _resample_pos_embed(self, sd: dict[str, torch.Tensor]) -> None:
        """Weights trained at another resolution: resample the grid as ``open_clip.create_model`` does."""
        pos = getattr(self.visual, "positional_embedding", None)
        v = sd.get("visual.positional_embedding")
        if pos is None or v is None or v.shape == pos.shape or v.ndim != 2 or v.shape[-1] != pos.shape[-1]:
            return
        side = int(round((v.shape[0] - 1) ** 0.5))
        if side * side != v.shape[0] - 1:
            return  # not a class token + square grid: leave it to the strict check
        from open_clip.model import resize_pos_embed

        warnings.warn(
            f"{self.name}: resampling positional_embedding from a {side}x{side} grid to {self.visual.grid_size}",
            stacklevel=3,
        )
        resize_pos_embed(sd, self)


def build_open_clip(spec: BackboneSpec, **kwargs: Any) -> OpenClipBackbone:
    name = spec.model_names["open_clip"]
    weights = spec.weights.get("open_clip", "")
    tag = open_clip_tag(name, weights.removeprefix("hf-hub:")) if weights else ""
    cfg = resolve_data_config(spec.preprocess) if spec.preprocess else None
    return OpenClipBackbone(name, tag=tag, name=spec.name, data_config=cfg, **spec.args_for("open_clip", **kwargs))
