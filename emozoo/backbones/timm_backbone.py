"""Backbones built with ``timm``.

The embedding is what the model returns with its classifier removed: the pooled pre-logits for ImageNet ViTs,
the attention-pool (MAP) output for SigLIP2 (what HF ``get_image_features`` returns), and, for CLIP
(``keep_head=True``), the projection to the joint image-text space, which timm stores as ``head``.
"""

from __future__ import annotations

import warnings
from typing import Any

import timm
import torch
from torch import nn

from emozoo.backbones.base import Backbone, BackboneSpec, DataConfig
from emozoo.backbones.convert import (
    HF_TEXT_KEYS,
    HF_VISION_PREFIX,
    OPEN_CLIP_TEXT_KEYS,
    hf_siglip_to_timm,
    split_prefix,
)
from emozoo.backbones.preprocess import data_config_from_timm, resolve_data_config, with_img_size

__all__ = ["TimmBackbone", "build_timm"]

_PREFIX = "model."


class TimmBackbone(Backbone):
    """Any timm model; the pooled output of ``model(images)`` is the embedding.

    Args:
        model_name: timm model name, ``arch.tag`` (the tag selects timm's pretrained config).
        name: emozoo registry name.
        data_config: preprocessing; default: timm's record for ``model_name``.
        keep_head: keep timm's head with its pretrained width (CLIP's projection) instead of removing it.
        **model_args: passed to ``timm.create_model`` (e.g. ``img_size``, ``depth``, ``embed_dim``).
    """

    impl = "timm"

    def __init__(
        self,
        model_name: str,
        name: str = "",
        data_config: DataConfig | None = None,
        keep_head: bool = False,
        **model_args: Any,
    ):
        super().__init__()
        self.name = name or model_name
        if keep_head:
            model_args.setdefault("num_classes", timm.models.get_pretrained_cfg(model_name).num_classes)
        else:
            model_args["num_classes"] = 0
        self.model = timm.create_model(model_name, pretrained=False, **model_args)
        self.num_features = int(self.model.num_classes or self.model.num_features)
        cfg = data_config or data_config_from_timm(model_name)
        self.data_config = with_img_size(cfg, model_args.get("img_size"))

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

    def adapt_state_dict(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Accept this wrapper's layout, timm's own, open_clip's (``visual.*``) and HF SigLIP's (``vision_model.*``)."""
        keys = list(state_dict)
        if keys and all(k.startswith(_PREFIX) for k in keys):
            sd = {k[len(_PREFIX) :]: v for k, v in state_dict.items()}
        elif any(k.startswith(HF_VISION_PREFIX) for k in keys):
            sd = hf_siglip_to_timm(split_prefix(state_dict, HF_VISION_PREFIX, drop=HF_TEXT_KEYS))
        elif "embeddings.patch_embedding.weight" in state_dict:  # a bare HF SiglipVisionModel (transformers 5)
            sd = hf_siglip_to_timm(state_dict)
        elif any(k.startswith(("visual.", "module.visual.")) for k in keys):
            # open_clip / OpenAI layout: timm's own filter renames it. It skips every key outside `visual.`, so
            # keys that are not the text tower's are put back for the strict check to report.
            from timm.models.vision_transformer import checkpoint_filter_fn

            sd = checkpoint_filter_fn(state_dict, self.model)
            sd.update(
                (k, v)
                for k, v in state_dict.items()
                if not k.startswith(("visual.", "module.visual."))
                and not k.removeprefix("module.").startswith(OPEN_CLIP_TEXT_KEYS)
            )
        else:
            sd = dict(state_dict)
            self._drop_classifier(sd)
        self._resample_pos_embed(sd)
        return {_PREFIX + k: v for k, v in sd.items()}

    def _drop_classifier(self, sd: dict[str, torch.Tensor]) -> None:
        """timm checkpoints carry their ImageNet classifier; a headless backbone has nowhere to put it."""
        if self.model.num_classes:
            return
        classifier = self.model.pretrained_cfg.get("classifier")
        for prefix in (classifier,) if isinstance(classifier, str) else tuple(classifier or ()):
            for k in [k for k in sd if k.startswith(prefix + ".")]:
                del sd[k]

    def _resample_pos_embed(self, sd: dict[str, torch.Tensor]) -> None:
        """Weights trained at another resolution: resample the position grid as timm's own loader does."""
        pos = getattr(self.model, "pos_embed", None)
        v = sd.get("pos_embed")
        if pos is None or v is None or v.shape == pos.shape or v.ndim != 3 or v.shape[-1] != pos.shape[-1]:
            return
        from timm.layers import resample_abs_pos_embed

        prefix = 0 if getattr(self.model, "no_embed_class", False) else getattr(self.model, "num_prefix_tokens", 1)
        side = int(round((v.shape[1] - prefix) ** 0.5))
        if side * side != v.shape[1] - prefix:
            return  # not a square grid: leave it to the strict check
        warnings.warn(
            f"{self.name}: resampling pos_embed from a {side}x{side} grid to {tuple(self.model.patch_embed.grid_size)}",
            stacklevel=3,
        )
        sd["pos_embed"] = resample_abs_pos_embed(
            v, new_size=self.model.patch_embed.grid_size, old_size=(side, side), num_prefix_tokens=prefix
        )


def build_timm(spec: BackboneSpec, **kwargs: Any) -> TimmBackbone:
    args = spec.args_for("timm", **kwargs)  # `depth` and `img_size` are timm's own names for ViTs
    cfg = resolve_data_config(spec.preprocess) if spec.preprocess else None
    return TimmBackbone(spec.model_names["timm"], name=spec.name, data_config=cfg, **args)
