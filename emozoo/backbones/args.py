"""The constructor kwargs each backbone implementation accepts: names, types and bounds (an allowlist).

Kwargs come from experiment files and from model folders' ``config.json``, both written by other people. Library
constructors accept far more than shapes: timm's ``checkpoint_path``/``pretrained_cfg_overlay`` read files,
open_clip's ``timm_model_name: "hf-hub:..."`` + ``timm_model_pretrained`` fetch a repo the file names, transformers'
``attn_implementation`` can fetch kernels. So only the kwargs listed here reach a constructor, each with a type and
bounds on every size; everything else is an error naming the key and the closest valid one. Weights are only ever
loaded by emozoo itself, through ``pretrained=`` (``emozoo.backbones.weights``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from difflib import get_close_matches
from typing import Any

from emozoo.errors import ConfigError

__all__ = ["ALLOWED_ARGS", "boolean", "check_backbone_args", "float_in", "int_in", "ints_in", "one_of"]

MAX_IMAGE = 4096  # pixels per side: 4096² is already ~50x the largest registered input (512²)
MAX_WIDTH = 16384  # channels / hidden sizes: 10x So400m's 1152 (and ViT-g's 1408)
MAX_LAYERS = 256  # blocks: 5x the deepest registered tower (48)

Check = Callable[[Any], str | None]  # None when the value is fine, else what it should be


def int_in(lo: int, hi: int) -> Check:
    def check(v: Any) -> str | None:
        return None if type(v) is int and lo <= v <= hi else f"an integer in [{lo}, {hi}]"

    return check


def float_in(lo: float, hi: float) -> Check:
    def check(v: Any) -> str | None:
        ok = type(v) in (int, float) and math.isfinite(v) and lo <= v <= hi
        return None if ok else f"a finite number in [{lo:g}, {hi:g}]"

    return check


def boolean(v: Any) -> str | None:
    return None if type(v) is bool else "true or false"


def one_of(*values: str) -> Check:
    def check(v: Any) -> str | None:
        return None if v in values else f"one of {', '.join(values)}"

    return check


def ints_in(lo: int, hi: int, max_len: int) -> Check:
    def check(v: Any) -> str | None:
        ok = isinstance(v, (list, tuple)) and 0 < len(v) <= max_len and all(type(x) is int and lo <= x <= hi for x in v)
        return None if ok else f"a list of 1 to {max_len} integers in [{lo}, {hi}]"

    return check


def _size(v: Any) -> str | None:
    """An image side, or (height, width)."""
    if int_in(1, MAX_IMAGE)(v) is None or (ints_in(1, MAX_IMAGE, 2)(v) is None and len(v) == 2):
        return None
    return f"an integer in [1, {MAX_IMAGE}] or a [height, width] pair of them"


_DROP = float_in(0.0, 1.0)
_COMMON: dict[str, Check] = {  # `depth` and `img_size` mean the same for every implementation
    "img_size": _size,
    "depth": int_in(1, MAX_LAYERS),
}
ALLOWED_ARGS: dict[str, dict[str, Check]] = {
    "timm": {
        **_COMMON,
        "patch_size": int_in(1, MAX_IMAGE),
        "embed_dim": int_in(1, MAX_WIDTH),
        "num_heads": int_in(1, 256),
        "mlp_ratio": float_in(0.25, 16.0),
        "num_classes": int_in(0, MAX_WIDTH),
        "keep_head": boolean,
        "qkv_bias": boolean,
        "qk_norm": boolean,
        "class_token": boolean,
        "no_embed_class": boolean,
        "reg_tokens": int_in(0, 64),
        "global_pool": one_of("", "avg", "token", "map", "avgmax", "max"),
        "act_layer": one_of("gelu", "gelu_tanh", "quick_gelu", "silu", "relu"),
        "dynamic_img_size": boolean,
        "dynamic_img_pad": boolean,
        "init_values": float_in(0.0, 1.0),
        "drop_rate": _DROP,
        "drop_path_rate": _DROP,
        "attn_drop_rate": _DROP,
        "proj_drop_rate": _DROP,
        "pos_drop_rate": _DROP,
        "patch_drop_rate": _DROP,
    },
    "open_clip": {
        **_COMMON,
        "image_size": _size,
        "layers": int_in(1, MAX_LAYERS),
        "width": int_in(1, MAX_WIDTH),
        "head_width": int_in(1, MAX_WIDTH),
        "mlp_ratio": float_in(0.25, 16.0),
        "patch_size": int_in(1, MAX_IMAGE),
        "ls_init_value": float_in(0.0, 1.0),
        "patch_dropout": _DROP,
        "pool_type": one_of("tok", "avg", "none"),
        "final_ln_after_pool": boolean,
        "no_ln_pre": boolean,
    },
    "hf": {
        **_COMMON,
        "image_size": int_in(1, MAX_IMAGE),
        "num_hidden_layers": int_in(1, MAX_LAYERS),
        "hidden_size": int_in(1, MAX_WIDTH),
        "intermediate_size": int_in(1, 4 * MAX_WIDTH),
        "num_attention_heads": int_in(1, 256),
        "patch_size": int_in(1, MAX_IMAGE),
        "hidden_act": one_of("gelu_pytorch_tanh", "gelu", "quick_gelu", "silu", "relu"),
        "layer_norm_eps": float_in(1e-12, 1e-2),
        "attention_dropout": _DROP,
        "vision_use_head": boolean,
    },
    "builtin": {
        "img_size": int_in(1, MAX_IMAGE),
        "widths": ints_in(1, MAX_WIDTH, 8),
    },
}


def check_backbone_args(impl: str, kwargs: dict[str, Any], where: str = "backbone kwargs") -> None:
    """Raise ``ConfigError`` unless every kwarg is allowed for ``impl`` and has a valid value.

    Args:
        impl: the implementation (``timm``, ``open_clip``, ``hf``, ``builtin``).
        kwargs: the caller's constructor kwargs (the registry entry's own are trusted and not passed here).
        where: where the kwargs come from, for the message (e.g. ``"DIR/config.json: model.backbone_args"``).
    """
    allowed = ALLOWED_ARGS.get(impl, {})
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{where} must be a mapping of constructor kwargs, got {type(kwargs).__name__}")
    for key, value in kwargs.items():
        if key not in allowed:
            close = get_close_matches(str(key), list(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise ConfigError(
                f"{where}: {key!r} is not a {impl} constructor kwarg emozoo passes on{hint} Allowed: "
                f"{', '.join(sorted(allowed)) or 'none'} (weights load only through pretrained=)"
            )
        expected = allowed[key](value)
        if expected is not None:
            raise ConfigError(f"{where}: {key}={value!r:.60} must be {expected}")
