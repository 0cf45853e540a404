"""The emozoo checkpoint format in one place: a model folder is ``config.json`` + ``model.safetensors`` + ``README.md``.

This module owns the file names, the model record (``config.json``: ``model_record`` writes it, ``read_record``
checks it against ``emozoo.zoo.schema``), the rebuild (``create_model(**record["model"])``) and the loading of
weights into a model, through the one key/shape/dtype check (``emozoo.backbones.readers.check_state``, which lives
with the safe readers because backbones, below the zoo, load weights too). Every writer and reader of the format
(``save_pretrained``, ``load_model``, ``emozoo zoo export``, the Empathic-Insight importer, ``init_from`` in
training) calls these functions.

A model folder is untrusted data. ``restore`` therefore validates the record before anything is built, builds the
model on the ``meta`` device (no memory) to learn the shapes it expects, compares them with the safetensors header
(nothing read yet), and only then reads the tensors, checks them for NaN/inf and builds the real model. A hostile
record can make emozoo allocate no more than the weights file it ships.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emozoo.backbones import DataConfig
from emozoo.backbones.readers import check_finite, check_state, read_state_dict, safetensors_header, tensor_specs
from emozoo.errors import EmozooError, WeightsError
from emozoo.model import EmotionModel, create_model
from emozoo.taxonomy import NAMES, NUM_EMOTIONS, TAXONOMY_VERSION
from emozoo.zoo.card import model_card
from emozoo.zoo.schema import METRIC_PATHS, parse_json, validate_record

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "apply_preprocessing",
    "describe",
    "load_checked",
    "model_record",
    "read_record",
    "rebuild",
    "resolve_model_dir",
    "restore",
    "save_pretrained",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
# What a library constructor may raise on a record that passed the schema but still does not make a network (e.g.
# an embed_dim that num_heads does not divide): reported as one line naming the file, like every other fault.
_BUILD_ERRORS = (TypeError, ValueError, AssertionError, RuntimeError, KeyError, IndexError, ZeroDivisionError)


def model_record(model: EmotionModel) -> dict[str, Any]:
    """What rebuilds ``model``: ``config.json`` without metrics, and a training checkpoint's ``"emozoo"`` entry
    (plain types only, so it loads with ``weights_only=True``)."""
    from emozoo._version import __version__

    return {
        "emozoo_version": __version__,
        "taxonomy_version": TAXONOMY_VERSION,
        "emotions": list(NAMES),
        "model": dict(model.config),
        "preprocessing": model.data_config.to_dict() if model.data_config is not None else None,
    }


def describe(model_cfg: dict[str, Any]) -> str:
    return f"{model_cfg.get('backbone')}+{model_cfg.get('head', 'mlp')}"


def rebuild(model_cfg: dict[str, Any], origin: str | Path, device: str | torch.device | None = None) -> EmotionModel:
    """``create_model`` from a checked record's ``model`` entry (random weights), on ``device`` if given."""
    kwargs = {
        "backbone": model_cfg.get("backbone"),
        "head": model_cfg.get("head", "mlp"),
        "impl": model_cfg.get("impl"),
        "num_emotions": model_cfg.get("num_emotions", NUM_EMOTIONS),
        "embed_dim": model_cfg.get("embed_dim"),
        "backbone_args": model_cfg.get("backbone_args"),
        "head_args": model_cfg.get("head_args"),
    }
    try:
        if device is None:
            return create_model(**kwargs)
        with torch.device(device):
            return create_model(**kwargs)
    except EmozooError as err:
        raise WeightsError(f"{origin}: {err}") from None
    except _BUILD_ERRORS as err:
        first = (str(err).strip().splitlines() or [""])[0][:200]
        raise WeightsError(
            f"{origin}: the model it describes ({describe(model_cfg)}) cannot be built: {type(err).__name__}: {first}"
        ) from None


def load_checked(module: nn.Module, state: dict[str, torch.Tensor], origin: str, target: str, hint: str = "") -> None:
    """Load ``state`` into ``module`` after the one key/shape/dtype check and a NaN/inf check."""
    check_state(tensor_specs(module.state_dict()), tensor_specs(state), origin, target, hint)
    check_finite(state, origin)
    module.load_state_dict(state, strict=True)


def apply_preprocessing(model: EmotionModel, record: dict[str, Any]) -> EmotionModel:
    # The preprocessing saved is the one the model was trained with (it may come from a checkpoint's
    # preprocessor_config.json rather than the registry's record), so it wins over the rebuilt default.
    if model.backbone is not None and record.get("preprocessing"):
        model.backbone.data_config = DataConfig.from_dict(record["preprocessing"])
    return model


def read_record(path: Path) -> dict[str, Any]:
    """The checked model record of a ``config.json`` (see ``emozoo.zoo.schema``)."""
    return validate_record(parse_json(path), path)


def resolve_model_dir(path_or_id: str | Path) -> Path:
    """A local model folder for ``path_or_id``: a directory, or ``hf-hub:org/name[@revision]`` from the HF cache."""
    text = str(path_or_id)
    if text.startswith("hf-hub:"):
        from emozoo.backbones.hub import snapshot_dir

        return snapshot_dir(text, [(CONFIG_NAME,), (WEIGHTS_NAME,)], optional=(CARD_NAME,))
    path = Path(text).expanduser()
    if not path.is_dir():
        raise WeightsError(f"model directory not found: {path} (expected {CONFIG_NAME} and {WEIGHTS_NAME} inside)")
    return path


def restore(directory: Path, map_location: str | torch.device = "cpu") -> EmotionModel:
    """The model of a model folder; every check runs before memory of the model's size is allocated.

    Raises:
        WeightsError: a missing file, a record that fails the schema, weights whose header does not match the
            record, or tensors with NaN/inf. One line, naming the file and the key.
    """
    cfg_path, weights = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    for f in (cfg_path, weights):
        if not f.is_file():
            raise WeightsError(f"{f} is missing; a model directory holds {CONFIG_NAME} and {WEIGHTS_NAME}")
    record = read_record(cfg_path)
    mc = record["model"]
    expected = rebuild(mc, cfg_path, device="meta")  # shapes and dtypes only
    check_state(
        tensor_specs(expected.state_dict()),
        safetensors_header(weights),
        str(weights),
        describe(mc),
        f"Is {CONFIG_NAME} the one saved with these weights?",
    )
    state = read_state_dict(weights)
    check_finite(state, str(weights))
    model = rebuild(mc, cfg_path)
    model.load_state_dict(state, strict=True)
    return apply_preprocessing(model, record).to(map_location).eval()


def _dig(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(report, dict) or key not in report:
            return None
        report = report[key]
    return report


def save_pretrained(
    model: EmotionModel, directory: str | Path, report: dict[str, Any] | None = None, experiment: str | None = None
) -> Path:
    """Write a model folder that ``emozoo.load_model`` restores exactly.

    Args:
        model: an ``EmotionModel``.
        directory: created if needed; existing files of the format are replaced (each atomically).
        report: the test-split ``agreement_report`` from training, summarised in ``config.json`` and the card.
        experiment: the experiment name, for the card.

    The weights get the same file mode as ``config.json`` (what the umask gives a new file), so whoever can read
    the record can read the weights.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = model_record(model)
    if report is not None:
        config["metrics"] = {k: _dig(report, path) for k, path in METRIC_PATHS.items()}
    if experiment:
        config["experiment"] = experiment
    from safetensors.torch import save_model

    tmp_config, tmp_weights = directory / f".{CONFIG_NAME}.tmp", directory / f".{WEIGHTS_NAME}.tmp"
    tmp_config.write_text(json.dumps(config, indent=2))
    save_model(model, str(tmp_weights))
    os.chmod(tmp_weights, stat.S_IMODE(tmp_config.stat().st_mode))
    tmp_weights.replace(directory / WEIGHTS_NAME)
    tmp_config.replace(directory / CONFIG_NAME)
    (directory / CARD_NAME).write_text(model_card(config, report, experiment))
    return directory
