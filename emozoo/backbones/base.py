"""The ``Backbone`` interface, the backbone registry entry type and the registry itself.

A backbone maps normalised images (B, 3, H, W) to one pooled embedding (B, num_features). Its preprocessing
(``DataConfig``) travels with it and is resolved from the underlying library's own pretrained config, so
swapping a backbone can never silently keep another backbone's normalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emozoo.registry import Registry

__all__ = ["BACKBONES", "Backbone", "BackboneSpec", "DataConfig", "list_backbones"]


@dataclass(frozen=True)
class DataConfig:
    """Preprocessing a backbone expects.

    Attributes:
        input_size: (C, H, W) at the backbone's native resolution.
        mean: per-channel mean, on the 0..1 scale.
        std: per-channel std, on the 0..1 scale.
        interpolation: ``bilinear`` or ``bicubic``.
        crop_pct: fraction of the resized image kept by the centre crop (1.0 keeps everything).
        crop_mode: ``center`` (resize the short side, centre-crop; CLIP, ViT) or ``squash``
            (resize both sides to the input size, no crop; SigLIP).
    """

    input_size: tuple[int, int, int] = (3, 224, 224)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"
    crop_pct: float = 1.0
    crop_mode: str = "center"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataConfig:
        return cls(
            input_size=tuple(d["input_size"]),
            mean=tuple(d["mean"]),
            std=tuple(d["std"]),
            interpolation=d.get("interpolation", "bicubic"),
            crop_pct=float(d.get("crop_pct", 1.0)),
            crop_mode=d.get("crop_mode", "center"),
        )


class Backbone(nn.Module):
    """Base class of all backbones: images in, one pooled embedding per image out.

    Subclasses set ``num_features`` and ``data_config`` and implement ``forward_features``. They expose their
    transformer blocks (or stages) through ``blocks()`` so that freezing and layer-wise LR decay work the same
    for every backbone.
    """

    num_features: int
    data_config: DataConfig
    name: str = ""
    impl: str = ""
    pretrained_source: str | None = None  # what ``pretrained=`` loaded, for provenance (None: random init)
    # Parameters that sit outside the blocks but act after them (e.g. open_clip's ``proj``, registered on the
    # root module and so listed first): they join the last depth group, not the stem.
    final_param_names: tuple[str, ...] = ()

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images to (B, num_features) embeddings."""
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_features(images)

    def blocks(self) -> list[nn.Module]:
        """The repeated blocks, input to output. Empty when the backbone has none."""
        return []

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Trade compute for memory; a no-op where the library has no support."""

    def adapt_state_dict(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a checkpoint in any layout this backbone accepts onto its own ``state_dict()`` keys.

        The default accepts only the backbone's own layout. Implementations add the library's native layout and
        known foreign ones (open_clip, Hugging Face). Keys are checked strictly afterwards, so an adapter never
        needs to, and must not, drop keys it does not recognise.
        """
        return state_dict

    def update_from_checkpoint_dir(self, directory: str | Path) -> None:
        """Refresh settings stored beside the weights (e.g. an HF ``preprocessor_config.json``); default no-op."""

    def param_groups_by_depth(self) -> list[list[nn.Parameter]]:
        """Parameters grouped by depth: [stem, block 0, ..., block N-1, final norm].

        Used by layer-wise LR decay and ``freeze: last_n_blocks=N``. Parameters not inside a block go to
        the stem group when they come before the first block in registration order, else to the last group;
        ``final_param_names`` go to the last group wherever they are registered.
        """
        blocks = self.blocks()
        in_block: dict[int, int] = {}
        for i, block in enumerate(blocks):
            for p in block.parameters():
                in_block[id(p)] = i + 1
        groups: list[list[nn.Parameter]] = [[] for _ in range(len(blocks) + 2)]
        seen_block = False
        for pname, p in self.named_parameters():
            depth = in_block.get(id(p))
            if depth is not None:
                seen_block = True
                groups[depth].append(p)
            elif pname in self.final_param_names:
                groups[-1].append(p)
            else:
                groups[-1 if seen_block else 0].append(p)
        return groups


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone registry entry: what to build, with which library, from which weights.

    Attributes:
        name: the registry name used in configs (``backbone.name=vit-b16``).
        impl: the default implementation (``timm``, ``open_clip``, ``hf`` or ``builtin``).
        builders: implementation name to a callable ``(spec, **kwargs) -> Backbone``.
        model_names: implementation name to the library's own model name (timm names carry the pretrained tag,
            e.g. ``vit_base_patch16_224.augreg2_in21k_ft_in1k``).
        weights: implementation name to the weights source for ``pretrained=true``: ``hf-hub:org/name``, where
            the repo name carries the tag (``timm/vit_base_patch16_clip_224.openai``).
        num_features: embedding width (checked against the built model by the tests).
        description: one line for ``emozoo zoo backbones``.
        model_args: extra keyword arguments for the library constructor, for every implementation.
        impl_args: extra keyword arguments for one implementation's builder.
        preprocess: where the preprocessing record comes from, shared by all implementations so that swapping
            ``impl`` never changes the input: ``timm:<name.tag>`` or ``open_clip:<name>/<tag>``; empty means the
            default implementation's own library record for its model name.
    """

    name: str
    impl: str
    builders: dict[str, Callable[..., Backbone]]
    model_names: dict[str, str]
    num_features: int
    weights: dict[str, str] = field(default_factory=dict)
    description: str = ""
    model_args: dict[str, Any] = field(default_factory=dict)
    impl_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    preprocess: str = ""

    @property
    def impls(self) -> list[str]:
        return list(self.builders)

    def args_for(self, impl: str, **kwargs: Any) -> dict[str, Any]:
        """Constructor kwargs for ``impl``: entry-wide, then per-implementation, then the caller's."""
        return {**self.model_args, **self.impl_args.get(impl, {}), **kwargs}


BACKBONES: Registry[BackboneSpec] = Registry("backbone")


def list_backbones(pattern: str = "*") -> list[str]:
    """Registered backbone names matching a glob pattern (timm's ``list_models`` convention)."""
    from emozoo import backbones  # noqa: F401  (importing the package registers the entries)

    return BACKBONES.names(pattern)
