"""Our own checkpoint format: ``config.json`` + ``model.safetensors`` + ``README.md``; ``load_model`` restores it.

``load_model`` takes a directory, ``hf-hub:org/name[@revision]`` resolved through the Hugging Face cache
(offline-safe: with ``HF_HUB_OFFLINE=1`` nothing is downloaded and a missing snapshot is an error that says how to
fetch it), or a zoo name from ``checkpoints/zoo.yaml``. Empathic-Insight release folders (``model_<slug>_best.pth``
files) are recognised and imported with ``load_empathic_insight``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model as st_load_model
from safetensors.torch import save_model as st_save_model

from emozoo.errors import WeightsError
from emozoo.taxonomy import NAMES, TAXONOMY_VERSION
from emozoo.zoo.card import model_card

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "load_model", "resolve_model_dir", "save_pretrained"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_METRICS = {  # config.json "metrics" key -> path in an agreement report
    "mean_spearman": ("model", "mean_spearman"),
    "spearman_ci": ("model", "spearman_ci"),
    "random_mean_spearman": ("random", "mean_spearman"),
    "raters_loo_mean_spearman": ("raters", "loo_mean_spearman"),
    "kappa_model_human": ("kappa", "model_human", "mean"),
    "kappa_human_human": ("kappa", "human_human", "mean"),
    "mann_whitney_p": ("kappa", "mann_whitney", "p_value"),
    "could_be_annotator": ("kappa", "mann_whitney", "could_be_annotator"),
    "alpha_humans": ("alpha", "mean"),
}


def _dig(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(report, dict) or key not in report:
            return None
        report = report[key]
    return report


def save_pretrained(model, directory: str | Path, report: dict[str, Any] | None = None, experiment: str | None = None):
    """Write a model directory that ``load_model`` restores exactly.

    Args:
        model: an ``EmotionModel``.
        directory: created if needed; existing files of the format are replaced (the weights atomically).
        report: the test-split ``agreement_report`` from training, summarised in ``config.json`` and the card.
        experiment: the experiment name, for the card.
    """
    from emozoo import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "emozoo_version": __version__,
        "taxonomy_version": TAXONOMY_VERSION,
        "emotions": list(NAMES),
        "model": model.config,
        "preprocessing": model.data_config.to_dict() if model.data_config is not None else None,
    }
    if report is not None:
        config["metrics"] = {k: _dig(report, path) for k, path in _METRICS.items()}
    if experiment:
        config["experiment"] = experiment
    tmp = directory / f".{WEIGHTS_NAME}.tmp"
    st_save_model(model, str(tmp))
    tmp.replace(directory / WEIGHTS_NAME)
    (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2))
    (directory / "README.md").write_text(model_card(config, report, experiment))
    return directory


def resolve_model_dir(path_or_id: str | Path) -> Path:
    """A local ``save_pretrained`` directory for ``path_or_id``: a directory, or ``hf-hub:org/name[@revision]``."""
    text = str(path_or_id)
    if text.startswith("hf-hub:"):
        from emozoo.zoo.hub_snapshot import snapshot_dir

        return snapshot_dir(text, [(CONFIG_NAME,), (WEIGHTS_NAME,)], optional=("README.md",))
    path = Path(text).expanduser()
    if not path.is_dir():
        raise WeightsError(f"model directory not found: {path} (expected {CONFIG_NAME} and {WEIGHTS_NAME} inside)")
    return path


def _check_weights(model, weights: Path, what: str) -> None:
    """Compare the file's keys and shapes (read from its header, no tensor loaded) with the model's."""
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        theirs = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118  (not iterable)
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, unexpected = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
    shapes = [f"{k} {theirs[k]} in the file vs {own[k]}" for k in own if k in theirs and theirs[k] != own[k]]
    if missing or unexpected or shapes:
        raise WeightsError(
            f"{weights} does not match {what}: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"shape mismatches {shapes[:3]}"
        )


def _restore(directory: Path, map_location: str | torch.device):
    from emozoo.backbones import DataConfig
    from emozoo.model import create_model

    cfg_path, weights = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    for f in (cfg_path, weights):
        if not f.is_file():
            raise WeightsError(f"{f} is missing; a model directory holds {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        config = json.loads(cfg_path.read_text())
        mc = dict(config["model"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise WeightsError(f"{cfg_path}: not an emozoo model config ({type(err).__name__}: {err})") from None
    model = create_model(
        mc.get("backbone"),
        mc.get("head", "mlp"),
        impl=mc.get("impl"),
        num_emotions=mc.get("num_emotions", len(NAMES)),
        embed_dim=mc.get("embed_dim"),
        backbone_args=mc.get("backbone_args"),
        head_args=mc.get("head_args"),
    )
    _check_weights(model, weights, f"{mc.get('backbone')}+{mc.get('head')}")
    st_load_model(model, str(weights), strict=True, device=str(map_location))
    # The preprocessing saved is the one the model was trained with (it may come from a checkpoint's
    # preprocessor_config.json rather than the registry's record), so it wins over the rebuilt default.
    if model.backbone is not None and config.get("preprocessing"):
        model.backbone.data_config = DataConfig.from_dict(config["preprocessing"])
    return model.eval()


def _load_empathic(source: str | Path, encoder, encoder_args, neutral_means, size=None, impl="hf"):
    from emozoo.zoo.empathic import load_empathic_insight

    backbone = "true" if encoder is None else encoder
    return load_empathic_insight(
        source, size, backbone=backbone, neutral_means=neutral_means, impl=impl, backbone_args=encoder_args
    )


def _looks_empathic_hub(source: str) -> bool:
    from emozoo.backbones.hub import parse_hub_id
    from emozoo.taxonomy import SLUGS
    from emozoo.zoo.hub_snapshot import cached_file

    repo, rev = parse_hub_id(source)
    if cached_file(repo, CONFIG_NAME, rev) is not None:
        return False
    return "empathic-insight" in repo.lower() or cached_file(repo, f"model_{SLUGS[0]}_best.pth", rev) is not None


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
        WeightsError: missing files, unknown names, or weights that do not match the config (names the keys).
    """
    if device is not None:
        from emozoo.devices import resolve_device

        target = resolve_device(device)  # a bad device fails before a long load
        return load_model(path_or_id, map_location, encoder=encoder, encoder_args=encoder_args,
                          neutral_means=neutral_means).to(target)  # fmt: skip
    text = str(path_or_id)
    if text.startswith("hf-hub:"):
        if _looks_empathic_hub(text):
            return _load_empathic(text, encoder, encoder_args, neutral_means)
        return _restore(resolve_model_dir(text), map_location)
    path = Path(text).expanduser()
    if path.is_dir():
        from emozoo.zoo.empathic import is_empathic_dir

        if not (path / CONFIG_NAME).is_file() and is_empathic_dir(path):
            return _load_empathic(path, encoder, encoder_args, neutral_means)
        return _restore(path, map_location)
    if "/" in text or path.suffix:  # meant as a path
        raise WeightsError(f"model directory not found: {path} (expected {CONFIG_NAME} and {WEIGHTS_NAME} inside)")
    from emozoo.zoo.manifest import load_zoo_entry

    return load_zoo_entry(text, map_location, encoder=encoder, encoder_args=encoder_args, neutral_means=neutral_means)
