"""Models for inference: loaded by name or folder onto a device, or an already built model moved there."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from emozoo.devices import module_device, resolve_device
from emozoo.errors import WeightsError

__all__ = ["load_for_inference", "model_label", "on_device"]


def load_for_inference(
    name_or_dir: str | Path,
    encoder: str | bool | None = None,
    neutral_means: str | None = None,
    device: str | torch.device | None = "auto",
    *,
    images: bool = True,
):
    """``emozoo.load_model`` in eval mode on ``device``, for images or (``images=False``) for cached embeddings;
    a ``.onnx`` file loads as an ``emozoo.deploy.OrtEmotionModel`` (onnxruntime's providers choose the device).

    For images, a model without an image encoder is an error that says what to pass. For embeddings, an
    Empathic-Insight release loads its heads alone unless ``encoder`` is given.
    """
    from emozoo.zoo.pretrained import load_model

    if str(name_or_dir).endswith(".onnx"):  # an exported model runs through onnxruntime, with the same records
        from emozoo.deploy import load_onnx_model

        return load_onnx_model(name_or_dir, images=images)
    if not images and encoder is None:
        encoder = False
    target = resolve_device(device)  # a bad --device fails before a long load
    model = load_model(name_or_dir, encoder=encoder, neutral_means=neutral_means, device=target)
    if images and model.backbone is None:
        raise WeightsError(
            f"{name_or_dir} is an emotion head without an image encoder (it takes embeddings); give the encoder "
            "with --encoder (e.g. hf-hub:google/siglip2-so400m-patch16-384 or local-dir:DIR)"
        )
    return model.eval()


def on_device(model: nn.Module, device: str | torch.device | None) -> nn.Module:
    """``model`` moved to ``device`` (in place, as ``nn.Module.to`` does); None leaves it where it is."""
    if device is not None:
        target = resolve_device(device)
        if module_device(model) != target:
            model.to(target)
    return model


def model_label(model: str | Path | nn.Module) -> str:
    """A short name for a model in file names and reports: its folder or hub name, made safe."""
    import re

    if isinstance(model, nn.Module):
        return "model"
    text = str(model)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(text.removeprefix("hf-hub:")).name or text)
