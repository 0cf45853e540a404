"""``load_model``: a model from wherever it is, a folder, ``hf-hub:org/name[@revision]`` or a zoo name.

The folder format itself is ``emozoo.zoo.format``. ``hf-hub:`` sources resolve through the Hugging Face cache
(offline-safe: with ``HF_HUB_OFFLINE=1`` nothing is downloaded and a missing snapshot is an error that says how to
fetch it); zoo names come from ``checkpoints/zoo.yaml`` (``emozoo.zoo.manifest``). Empathic-Insight release
folders (``model_<slug>_best.pth`` files) are recognised and imported with ``emozoo.zoo.empathic``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from emozoo.errors import WeightsError
from emozoo.zoo.empathic import is_empathic_dir, load_release, looks_empathic_hub
from emozoo.zoo.format import CONFIG_NAME, WEIGHTS_NAME, resolve_model_dir, restore, save_pretrained
from emozoo.zoo.manifest import load_zoo_entry

__all__ = ["load_model", "resolve_model_dir", "save_pretrained"]


def load_model(
    path_or_id: str | Path,
    map_location: str | torch.device = "cpu",
    *,
    encoder: str | bool | None = None,
    encoder_args: dict[str, Any] | None = None,
    neutral_means: str | Path | torch.Tensor | None = None,
    device: str | torch.device | None = None,
):
    """Restore a model: a ``save_pretrained`` directory, ``hf-hub:org/name``, or a zoo name (``emozoo zoo list``).

    Args:
        path_or_id: directory, ``hf-hub:org/name[@revision]`` or zoo checkpoint name.
        map_location: device of the loaded weights.
        encoder: Empathic-Insight releases only: the SigLIP2 encoder's weights (``hf-hub:...``, ``local-dir:DIR``,
            a file, ``true`` for the default); None takes the zoo entry's (default ``true``); False loads the
            heads alone (they take embeddings).
        encoder_args: Empathic-Insight only: encoder constructor kwargs (a differently sized SigLIP).
        neutral_means: Empathic-Insight only: a JSON/JSONL file or a (40,) tensor; None takes the zoo entry's or
            the release's own file.
        device: where the model goes once loaded: ``auto`` (CUDA, then MPS, then the CPU), ``cpu``, ``cuda``,
            ``cuda:N`` or ``mps`` (``emozoo.devices.resolve_device``); None leaves it on ``map_location``.

    Raises:
        WeightsError: missing files, unknown names, a ``config.json`` that fails the schema, or weights that do
            not match it (names the file and the keys).
    """
    if device is not None:
        from emozoo.devices import resolve_device

        target = resolve_device(device)  # a bad device fails before a long load
        return load_model(path_or_id, map_location, encoder=encoder, encoder_args=encoder_args,
                          neutral_means=neutral_means).to(target)  # fmt: skip
    text = str(path_or_id)
    if text.startswith("hf-hub:"):
        if looks_empathic_hub(text, CONFIG_NAME):
            return load_release(text, encoder, encoder_args, neutral_means)
        return restore(resolve_model_dir(text), map_location)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file() and is_empathic_dir(path):
            return load_release(path, encoder, encoder_args, neutral_means)
        return restore(path, map_location)
    if "/" in text or path.suffix:  # meant as a path
        raise WeightsError(f"model directory not found: {path} (expected {CONFIG_NAME} and {WEIGHTS_NAME} inside)")
    return load_zoo_entry(text, map_location, encoder=encoder, encoder_args=encoder_args, neutral_means=neutral_means)
