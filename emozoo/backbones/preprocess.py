"""Preprocessing records: a ``DataConfig`` resolved from a library's own pretrained config, never typed by hand.

Two sources are understood:

- ``timm:<name.tag>``: timm's ``pretrained_cfg`` through ``timm.data.resolve_data_config``.
- ``open_clip:<name>/<tag>``: open_clip's record for that tag (mean, std, interpolation, ``resize_mode``) over the
  model config's ``preprocess_cfg``, with the size from the model config's ``vision_cfg.image_size``. This is what
  ``open_clip.create_model`` attaches to ``model.visual.preprocess_cfg``.

CLIP and SigLIP2 entries take open_clip's record for every implementation: timm's records for them carry timm's
generic defaults (centre crop with ``crop_pct=0.9`` for the SigLIP2 and CLIP B/16 tags), whereas open_clip's
follow the original pipelines (SigLIP squashes the image to the input size; OpenAI CLIP resizes the short side
and centre-crops at ``crop_pct=1``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

from emozoo.backbones.base import DataConfig

__all__ = ["data_config_from_open_clip", "data_config_from_timm", "resolve_data_config", "with_img_size"]


@cache
def data_config_from_timm(model_name: str) -> DataConfig:
    """The data config timm resolves for ``model_name`` (``arch.tag``) without building the model."""
    import timm

    pcfg = timm.models.get_pretrained_cfg(model_name)
    if pcfg is None:
        raise ValueError(f"timm has no pretrained config for {model_name!r}")
    cfg = timm.data.resolve_data_config({}, pretrained_cfg=pcfg.to_dict())
    return DataConfig(
        input_size=tuple(int(v) for v in cfg["input_size"]),
        mean=tuple(float(v) for v in cfg["mean"]),
        std=tuple(float(v) for v in cfg["std"]),
        interpolation=str(cfg.get("interpolation", "bicubic")),
        crop_pct=float(cfg.get("crop_pct", 1.0)),
        # timm spells SigLIP-style resizing crop_mode="squash"; every other mode is a centre crop.
        crop_mode="squash" if cfg.get("crop_mode") == "squash" else "center",
    )


def open_clip_pretrained_cfg(model_name: str, tag: str) -> dict[str, Any]:
    """open_clip's record for ``model_name``/``tag``, or a ``ValueError`` naming the known tags."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(f"open_clip has no pretrained tag {tag!r} for {model_name!r}; known tags: {tags}")
    return cfg


@cache
def data_config_from_open_clip(model_name: str, tag: str) -> DataConfig:
    """The data config open_clip attaches to ``model_name`` created with ``pretrained=tag``."""
    import open_clip
    from open_clip.transform import PreprocessCfg, merge_preprocess_dict

    model_cfg = open_clip.get_model_config(model_name)
    if model_cfg is None:
        raise ValueError(f"open_clip has no model config {model_name!r}")
    pp = merge_preprocess_dict(PreprocessCfg(), model_cfg.get("preprocess_cfg", {}))
    if tag:  # without a tag, the model config's own preprocess_cfg (over open_clip's defaults)
        pp = merge_preprocess_dict(pp, open_clip_pretrained_cfg(model_name, tag))
    size = model_cfg["vision_cfg"].get("image_size", pp["size"])
    h, w = (size, size) if isinstance(size, int) else size
    mode = pp["resize_mode"]
    if mode not in ("squash", "shortest"):  # 'longest' pads; no registered model uses it
        raise ValueError(f"open_clip resize_mode {mode!r} of {model_name}/{tag} is not supported")
    return DataConfig(
        input_size=(3, int(h), int(w)),
        mean=tuple(float(v) for v in pp["mean"]),
        std=tuple(float(v) for v in pp["std"]),
        interpolation=str(pp["interpolation"]),
        crop_pct=1.0,  # 'shortest' resizes the short side to the input size, then crops: no extra margin
        crop_mode="squash" if mode == "squash" else "center",
    )


def resolve_data_config(source: str) -> DataConfig:
    """Parse a ``BackboneSpec.preprocess`` string (``timm:...`` or ``open_clip:name/tag``)."""
    lib, _, ident = source.partition(":")
    if lib == "timm":
        return data_config_from_timm(ident)
    if lib == "open_clip":
        name, _, tag = ident.partition("/")
        return data_config_from_open_clip(name, tag)
    raise ValueError(f"unknown preprocessing source {source!r}; expected timm:<name.tag> or open_clip:<name>/<tag>")


def with_img_size(cfg: DataConfig, img_size: int | tuple[int, int] | None) -> DataConfig:
    """``cfg`` at another resolution (a backbone built with ``img_size=``); normalisation is unchanged."""
    if img_size is None:
        return cfg
    h, w = (img_size, img_size) if isinstance(img_size, int) else img_size
    return replace(cfg, input_size=(3, int(h), int(w)))
