"""Fine-tuning controls: freezing, optimizer parameter groups with layer-wise LR decay, optional compilation.

Everything works through the ``Backbone`` interface (``param_groups_by_depth``), so it is the same for every
backbone. Pure PyTorch: no Lightning here (``EmotionModule.configure_optimizers`` calls ``param_groups``).

Depth groups are ``[stem, block 0, ..., block N-1, final]``, where ``final`` holds what acts after the last block
(final norm, attention pool, CLIP projection). With ``layer_decay=d`` a group at depth ``i`` of ``L`` groups gets
``lr * backbone_lr_scale * d ** (L - 1 - i)``: the final group gets the full backbone rate, as in timm and BEiT.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from emozoo.errors import ConfigError

__all__ = ["apply_freeze", "maybe_compile", "no_weight_decay", "param_groups", "parse_freeze"]

_FREEZE_HELP = "freeze must be one of: all | none | last_n_blocks=N (N >= 0 blocks left trainable)"
# Learned embeddings and tokens: decaying them towards zero only hurts (timm's no_weight_decay lists these).
_NO_DECAY_NAMES = re.compile(
    r"(^|\.)(pos_embed|cls_token|reg_token|dist_token|mask_token|class_embedding|positional_embedding|"
    r"position_embedding|latent|probe|logit_scale|logit_bias)(\.|$)"
)


def parse_freeze(freeze: str | None) -> int | None:
    """``all`` → 0 blocks trainable and no final group (returns -1), ``none`` → None, ``last_n_blocks=N`` → N."""
    s = (freeze or "none").strip().lower()
    if s == "none":
        return None
    if s == "all":
        return -1
    m = re.fullmatch(r"last_n_blocks\s*=\s*(\d+)", s)
    if not m:
        raise ConfigError(f"backbone.freeze={freeze!r}: {_FREEZE_HELP}")
    return int(m.group(1))


def apply_freeze(backbone: nn.Module | None, freeze: str | None) -> int:
    """Set ``requires_grad`` on the backbone's parameters; returns how many parameters stay trainable.

    ``all`` freezes everything; ``none`` trains everything; ``last_n_blocks=N`` trains the last N blocks and the
    final group (norm / pool / projection after them), freezing the stem and earlier blocks. A head-only model
    (``backbone=None``) accepts ``all`` and ``none``.
    """
    n = parse_freeze(freeze)
    if backbone is None:
        if n not in (None, -1):
            raise ConfigError(f"backbone.freeze={freeze!r} needs a backbone; this model has none")
        return 0
    if n is None:
        backbone.requires_grad_(True)
    elif n == -1:
        backbone.requires_grad_(False)
    else:
        groups = backbone.param_groups_by_depth()
        num_blocks = len(groups) - 2
        if num_blocks <= 0:
            raise ConfigError(f"backbone.freeze={freeze!r}: backbone {backbone.name!r} has no blocks; use all|none")
        if n > num_blocks:
            raise ConfigError(f"backbone.freeze={freeze!r}: backbone {backbone.name!r} has only {num_blocks} blocks")
        backbone.requires_grad_(False)
        for group in groups[len(groups) - 1 - n :]:
            for p in group:
                p.requires_grad_(True)
    return sum(p.numel() for p in backbone.parameters() if p.requires_grad)


def no_weight_decay(name: str, param: nn.Parameter) -> bool:
    """Biases, norm scales and other 1-d parameters, position embeddings and learned tokens."""
    return param.ndim <= 1 or name.endswith(".bias") or bool(_NO_DECAY_NAMES.search(name))


def param_groups(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    layer_decay: float | None = None,
    backbone_lr_scale: float = 1.0,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups: layer-wise LR decay over the backbone, full ``lr`` for the head.

    Args:
        model: has ``.backbone`` (a ``Backbone`` or None) and ``.head``; any other trainable parameter is treated
            like the head.
        lr: the head's learning rate.
        weight_decay: applied to weight matrices only (see ``no_weight_decay``).
        layer_decay: per-depth factor in (0, 1]; None means no decay.
        backbone_lr_scale: multiplies every backbone group's rate (e.g. 0.1 for a gentler backbone).

    Returns:
        Non-empty groups ``{"params", "lr", "weight_decay", "lr_scale", "name"}``; frozen parameters are left out.
        ``lr_scale`` is informative (the ``lr`` already includes it).
    """
    if layer_decay is not None and not 0.0 < layer_decay <= 1.0:
        raise ConfigError(f"optim.layer_decay={layer_decay}: must be in (0, 1] or null")
    names = {id(p): n for n, p in model.named_parameters()}
    buckets: dict[tuple[str, bool], dict[str, Any]] = {}
    placed: set[int] = set()

    def add(label: str, scale: float, params: list[nn.Parameter]) -> None:
        for p in params:
            if id(p) in placed or not p.requires_grad:
                continue
            placed.add(id(p))
            nd = no_weight_decay(names.get(id(p), ""), p)
            key = (label, nd)
            if key not in buckets:
                buckets[key] = {
                    "params": [],
                    "lr": lr * scale,
                    "weight_decay": 0.0 if nd else weight_decay,
                    "lr_scale": scale,
                    "name": f"{label}.{'no_decay' if nd else 'decay'}",
                }
            buckets[key]["params"].append(p)

    backbone = getattr(model, "backbone", None)
    if backbone is not None:
        groups = backbone.param_groups_by_depth()
        for i, params in enumerate(groups):
            decay = layer_decay ** (len(groups) - 1 - i) if layer_decay is not None else 1.0
            add(f"backbone.depth{i:02d}", backbone_lr_scale * decay, params)
    add("head", 1.0, list(model.parameters()))  # the head, and anything else outside the backbone
    return list(buckets.values())


def maybe_compile(module: nn.Module, enabled: bool, **kwargs: Any) -> nn.Module:
    """``torch.compile`` the module in place when ``enabled``; returns it (state-dict keys are unchanged).

    ``nn.Module.compile`` is used rather than ``torch.compile(module)``: the latter wraps the module in an
    ``OptimizedModule`` whose keys get an ``_orig_mod.`` prefix, which would break checkpoints.
    """
    if enabled:
        if not hasattr(torch, "compile"):
            raise ConfigError("backbone.compile=true needs torch>=2.0")
        module.compile(**kwargs)
    return module
