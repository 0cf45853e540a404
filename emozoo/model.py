"""``EmotionModel`` = backbone + emotion head, and ``create_model``. A pure ``nn.Module``: no Lightning here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from emozoo.backbones import Backbone, DataConfig, create_backbone, create_transform
from emozoo.heads import EmotionHead, create_head
from emozoo.taxonomy import NUM_EMOTIONS

__all__ = ["EmotionModel", "create_model"]


class EmotionModel(nn.Module):
    """Images to emotion outputs (see ``emozoo.heads`` for the output dict).

    Args:
        backbone: any ``Backbone``; ``None`` for a head-only model that takes embeddings (cached-embedding path).
        head: an ``EmotionHead`` whose ``in_features`` equals ``backbone.num_features``.
        config: the arguments that rebuild this model with ``create_model(**config)``; written by
            ``emozoo.save_pretrained``.
    """

    def __init__(self, backbone: Backbone | None, head: EmotionHead, config: dict[str, Any] | None = None):
        super().__init__()
        if backbone is not None and backbone.num_features != head.in_features:
            raise ValueError(
                f"head expects {head.in_features}-d embeddings but backbone {backbone.name!r} gives "
                f"{backbone.num_features}-d"
            )
        self.backbone = backbone
        self.head = head
        self.config = dict(config or {})

    @property
    def data_config(self) -> DataConfig | None:
        return self.backbone.data_config if self.backbone is not None else None

    def transform(self, train: bool = False):
        """The image transform this model expects (resolved from the backbone's pretrained config)."""
        if self.data_config is None:
            raise ValueError("a head-only model takes embeddings, not images")
        return create_transform(self.data_config, train=train)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        if self.backbone is None:
            raise ValueError("a head-only model takes embeddings: call forward_embeddings")
        return self.backbone(images)

    def forward_embeddings(self, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(embeddings)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.embed(images))

    def predict(self, x: Any, *, faces: str = "all", top_k: int = 5, **kwargs: Any) -> list:
        """Emotions of the faces in ``x``: one ``emozoo.inference.FacePrediction`` per face, in input order.

        ``x`` is a path (image, video, folder, glob), a PIL image, a numpy array (HWC uint8), a tensor (CHW) or a
        list of them; ``faces`` is ``all`` (every detected face, aligned), ``largest`` or ``none`` (each whole image,
        for EmoNet-Face-style close-ups); other keywords as ``emozoo.inference.predict``.
        The work (reading files, cropping, batching) lives in the inference layer, imported here on call, so
        that this module stays a pure ``nn.Module`` without I/O, and ``emozoo predict`` and this method share
        one code path.

        Example:
            >>> import numpy as np, emozoo
            >>> model = emozoo.create_model("cnn-tiny", backbone_args={"img_size": 32})
            >>> [p] = model.predict(np.zeros((48, 64, 3), dtype=np.uint8), faces="none", top_k=3)
            >>> p.box, len(p.top(3)), len(p.intensity)
            ([0.0, 0.0, 64.0, 48.0], 3, 40)
        """
        from emozoo.inference import predict

        return predict(self, x, faces=faces, top_k=top_k, **kwargs)

    def save_pretrained(
        self, directory: str | Path, report: dict[str, Any] | None = None, experiment: str | None = None
    ) -> Path:
        """Write ``config.json``, ``model.safetensors`` and a ``README.md`` model card to ``directory``.

        The same as ``emozoo.save_pretrained(model, directory)``; the format lives in ``emozoo.zoo.format``,
        imported here on call (a deferred import that ``.importlinter`` lists by name), so the model layer
        imports nothing above it when it loads.
        """
        from emozoo.zoo.format import save_pretrained

        return save_pretrained(self, directory, report, experiment)


def create_model(
    backbone: str | None = "vit-tiny",
    head: str = "mlp",
    pretrained: str | bool | None = None,
    *,
    impl: str | None = None,
    num_emotions: int = NUM_EMOTIONS,
    embed_dim: int | None = None,
    backbone_args: dict[str, Any] | None = None,
    head_args: dict[str, Any] | None = None,
) -> EmotionModel:
    """Build an emotion model from registry names.

    Args:
        backbone: backbone registry name (``emozoo.list_backbones()``), or None for a head on embeddings.
        head: head registry name (``mlp``, ``linear``, ...).
        pretrained: backbone weights source (None: random init). See ``emozoo.backbones.create_backbone``.
        impl: backbone implementation where the entry has several.
        num_emotions: number of outputs.
        embed_dim: embedding width for a head-only model (``backbone=None``).
        backbone_args: library constructor kwargs (e.g. ``{"img_size": 64}``).
        head_args: head kwargs (e.g. ``{"hidden_dim": 256}``).

    Example:
        >>> import torch, emozoo
        >>> model = emozoo.create_model("cnn-tiny", "mlp")
        >>> out = model(torch.randn(2, 3, 64, 64))
        >>> out["intensity"].shape, bool(torch.allclose(out["distribution"].sum(-1), torch.ones(2)))
        (torch.Size([2, 40]), True)
    """
    backbone_args = dict(backbone_args or {})
    head_args = dict(head_args or {})
    bb = None
    if backbone is not None:
        bb = create_backbone(backbone, pretrained=pretrained, impl=impl, **backbone_args)
        embed_dim = bb.num_features
    elif embed_dim is None:
        raise ValueError("a head-only model (backbone=None) needs embed_dim")
    hd = create_head(head, embed_dim, num_emotions, **head_args)
    config = {
        "backbone": backbone,
        "head": head,
        "impl": impl,
        "num_emotions": num_emotions,
        "embed_dim": embed_dim,
        "backbone_args": backbone_args,
        "head_args": head_args,
    }
    return EmotionModel(bb, hd, config)
