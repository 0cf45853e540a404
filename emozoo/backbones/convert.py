"""State-dict layout conversions between libraries, so one set of weights loads into every implementation.

- Hugging Face ``SiglipVisionModel`` (``vision_model.*``, as in ``google/siglip2-*``) to a timm SigLIP ViT.
- open_clip (``visual.*``, ``visual.trunk.*``) to timm: timm's own ``checkpoint_filter_fn`` does this.

Keys a conversion does not know are passed through unchanged, so the strict check that follows reports them.
"""

from __future__ import annotations

import re

import torch

__all__ = ["HF_TEXT_KEYS", "HF_VISION_PREFIX", "OPEN_CLIP_TEXT_KEYS", "hf_siglip_to_timm", "split_prefix"]

HF_VISION_PREFIX = "vision_model."
# Keys of a full open_clip CLIP/SigLIP checkpoint that belong to the text side; they are dropped on purpose
# when a vision backbone reads such a file. Anything else unknown is reported.
OPEN_CLIP_TEXT_KEYS = (
    "transformer.",
    "token_embedding.",
    "positional_embedding",
    "ln_final.",
    "text_projection",
    "text.",
    "logit_scale",
    "logit_bias",
    "attn_mask",
)
HF_TEXT_KEYS = ("text_model.", "logit_scale", "logit_bias")

_HF_BLOCK = re.compile(r"^encoder\.layers\.(\d+)\.(.+)$")
_HF_BLOCK_SWAPS = {
    "layer_norm1.": "norm1.",
    "layer_norm2.": "norm2.",
    "self_attn.out_proj.": "attn.proj.",
    "mlp.fc1.": "mlp.fc1.",
    "mlp.fc2.": "mlp.fc2.",
}
_HF_SIMPLE = {
    "embeddings.patch_embedding.weight": "patch_embed.proj.weight",
    "embeddings.patch_embedding.bias": "patch_embed.proj.bias",
    "post_layernorm.weight": "norm.weight",
    "post_layernorm.bias": "norm.bias",
    "head.probe": "attn_pool.latent",
    "head.attention.out_proj.weight": "attn_pool.proj.weight",
    "head.attention.out_proj.bias": "attn_pool.proj.bias",
    "head.layernorm.weight": "attn_pool.norm.weight",
    "head.layernorm.bias": "attn_pool.norm.bias",
    "head.mlp.fc1.weight": "attn_pool.mlp.fc1.weight",
    "head.mlp.fc1.bias": "attn_pool.mlp.fc1.bias",
    "head.mlp.fc2.weight": "attn_pool.mlp.fc2.weight",
    "head.mlp.fc2.bias": "attn_pool.mlp.fc2.bias",
}


def split_prefix(
    state_dict: dict[str, torch.Tensor], prefix: str, drop: tuple[str, ...] = ()
) -> dict[str, torch.Tensor]:
    """Keys under ``prefix`` with the prefix removed; keys starting with one of ``drop`` are discarded; every
    other key is kept as is (so that it shows up as unexpected)."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith(prefix):
            out[k[len(prefix) :]] = v
        elif not k.startswith(drop):
            out[k] = v
    return out


def hf_siglip_to_timm(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An HF SigLIP vision state dict (keys without ``vision_model.``) in timm's ``VisionTransformer`` layout.

    HF keeps q/k/v as three linears and the attention-pool head as ``nn.MultiheadAttention``; timm fuses qkv in
    the blocks and splits the pool's projection into ``q`` and ``kv``.
    """
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for k, v in state_dict.items():
        if k in _HF_SIMPLE:
            out[_HF_SIMPLE[k]] = v
        elif k == "embeddings.position_embedding.weight":
            out["pos_embed"] = v.unsqueeze(0)
        elif k in ("head.attention.in_proj_weight", "head.attention.in_proj_bias"):
            kind = k.rsplit("_", 1)[1]  # weight | bias
            dim = v.shape[0] // 3
            out[f"attn_pool.q.{kind}"] = v[:dim]
            out[f"attn_pool.kv.{kind}"] = v[dim:]
        elif m := _HF_BLOCK.match(k):
            i, rest = m.groups()
            qkv_m = re.match(r"self_attn\.([qkv])_proj\.(weight|bias)$", rest)
            if qkv_m:
                qkv.setdefault((i, qkv_m.group(2)), {})[qkv_m.group(1)] = v
                continue
            for old, new in _HF_BLOCK_SWAPS.items():
                if rest.startswith(old):
                    rest = new + rest[len(old) :]
                    break
            else:
                out[k] = v  # unknown: keep for the strict check
                continue
            out[f"blocks.{i}.{rest}"] = v
        else:
            out[k] = v
    for (i, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            for name, t in parts.items():  # incomplete: report the originals
                out[f"encoder.layers.{i}.self_attn.{name}_proj.{kind}"] = t
            continue
        out[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out
