"""Backbone registry entries. Adding a backbone is one ``_add(...)`` call here.

Preprocessing is not typed here: it is resolved from a library's pretrained record when the backbone is built
(``preprocess=``, see ``emozoo.backbones.preprocess``; default: the default implementation's own record).
The embedding of each family:

- SigLIP2: the attention-pool output, i.e. HF ``get_image_features`` (raw, not normalised);
- CLIP: the image embedding in the joint space (after the projection), i.e. ``encode_image`` unnormalised;
- ImageNet ViT: the pooled pre-logits (class token after the final norm).

Timm model names carry the pretrained tag; ``weights`` holds, per implementation, the hub repo the weights come
from with ``pretrained=true``. The tests check both against timm's and open_clip's own records.
"""

from __future__ import annotations

from typing import Any

from emozoo.backbones.base import BACKBONES, BackboneSpec
from emozoo.backbones.cnn import build_cnn
from emozoo.backbones.hf_siglip import build_hf
from emozoo.backbones.open_clip_backbone import build_open_clip
from emozoo.backbones.timm_backbone import build_timm

_BUILDERS = {"timm": build_timm, "open_clip": build_open_clip, "hf": build_hf, "builtin": build_cnn}


def _add(name: str, impl: str, model_names: dict[str, str], num_features: int, **kw: Any) -> None:
    builders = {k: _BUILDERS[k] for k in model_names}
    BACKBONES.register(name, BackboneSpec(name, impl, builders, model_names, num_features, **kw))


def _siglip2(name: str, timm_name: str, open_clip_name: str, hf_id: str, num_features: int, what: str) -> None:
    """SigLIP2 (fixed resolution): timm by default, or the transformers layout of the google/ checkpoints."""
    _add(
        name,
        "timm",
        {"timm": timm_name, "hf": hf_id},
        num_features,
        weights={"timm": f"hf-hub:timm/{timm_name}", "hf": f"hf-hub:{hf_id}"},
        # big_vision trained SigLIP with tanh-approximate GELU (HF: hidden_act=gelu_pytorch_tanh); timm's B/16 and
        # So400m/14 SigLIP definitions default to exact GELU, which drifts from get_image_features (~1e-4).
        impl_args={"timm": {"act_layer": "gelu_tanh"}},
        # timm's SigLIP records are its generic defaults (centre crop 0.9); open_clip's follow big_vision (squash)
        preprocess=f"open_clip:{open_clip_name}/webli",
        description=what,
    )


def _clip(name: str, timm_name: str, open_clip_name: str, num_features: int, what: str) -> None:
    """OpenAI CLIP: QuickGELU in both implementations (timm's `_quickgelu` names, open_clip's `-quickgelu`)."""
    hub = "timm/" + timm_name.replace("_quickgelu", "")  # both libraries fetch OpenAI's weights from this repo
    _add(
        name,
        "timm",
        {"timm": timm_name, "open_clip": open_clip_name},
        num_features,
        weights={"timm": f"hf-hub:{hub}", "open_clip": f"hf-hub:{hub}"},
        impl_args={"timm": {"keep_head": True}},  # timm keeps CLIP's projection as `head`
        # OpenAI's pipeline: short side to the input size, centre crop (timm's B/16 record says crop_pct 0.9)
        preprocess=f"open_clip:{open_clip_name}/openai",
        description=what,
    )


_siglip2(
    "siglip2-so400m-16-384",
    "vit_so400m_patch16_siglip_384.v2_webli",
    "ViT-SO400M-16-SigLIP2-384",
    "google/siglip2-so400m-patch16-384",
    1152,
    "SigLIP2 So400m/16 @384: the Empathic-Insight encoder",
)
_siglip2(
    "siglip2-so400m-16-256",
    "vit_so400m_patch16_siglip_256.v2_webli",
    "ViT-SO400M-16-SigLIP2-256",
    "google/siglip2-so400m-patch16-256",
    1152,
    "SigLIP2 So400m/16 @256",
)
_siglip2(
    "siglip2-so400m-16-512",
    "vit_so400m_patch16_siglip_512.v2_webli",
    "ViT-SO400M-16-SigLIP2-512",
    "google/siglip2-so400m-patch16-512",
    1152,
    "SigLIP2 So400m/16 @512",
)
_siglip2(
    "siglip2-so400m-14-224",
    "vit_so400m_patch14_siglip_224.v2_webli",
    "ViT-SO400M-14-SigLIP2",
    "google/siglip2-so400m-patch14-224",
    1152,
    "SigLIP2 So400m/14 @224",
)
_siglip2(
    "siglip2-b16-224",
    "vit_base_patch16_siglip_224.v2_webli",
    "ViT-B-16-SigLIP2",
    "google/siglip2-base-patch16-224",
    768,
    "SigLIP2 B/16 @224: the cheap SigLIP2",
)
_clip("clip-vit-b16", "vit_base_patch16_clip_quickgelu_224.openai", "ViT-B-16-quickgelu", 512, "OpenAI CLIP ViT-B/16")
_clip("clip-vit-l14", "vit_large_patch14_clip_quickgelu_224.openai", "ViT-L-14-quickgelu", 768, "OpenAI CLIP ViT-L/14")
_clip(
    "clip-vit-l14-336",
    "vit_large_patch14_clip_quickgelu_336.openai",
    "ViT-L-14-336-quickgelu",
    768,
    "OpenAI CLIP ViT-L/14 @336",
)
_add(
    "vit-b16",
    "timm",
    {"timm": "vit_base_patch16_224.augreg2_in21k_ft_in1k"},
    768,
    weights={"timm": "hf-hub:timm/vit_base_patch16_224.augreg2_in21k_ft_in1k"},
    description="ViT-B/16 AugReg (IN-21k, fine-tuned IN-1k)",
)
_add(
    "vit-l16",
    "timm",
    {"timm": "vit_large_patch16_224.augreg_in21k_ft_in1k"},
    1024,
    weights={"timm": "hf-hub:timm/vit_large_patch16_224.augreg_in21k_ft_in1k"},
    description="ViT-L/16 AugReg (IN-21k, fine-tuned IN-1k)",
)
_add(
    "vit-tiny",
    "timm",
    {"timm": "vit_tiny_patch16_224.augreg_in21k_ft_in1k"},
    192,
    weights={"timm": "hf-hub:timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k"},
    description="ViT-Ti/16 (timm); random init is the CPU demo backbone",
)
_add(
    "cnn-tiny",
    "builtin",
    {"builtin": "tiny_cnn"},
    192,
    description="4-stage CNN, random init only; fastest tests",
)
