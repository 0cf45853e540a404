"""``emozoo zoo export CKPT DIR``: a Lightning training checkpoint to a ``save_pretrained`` folder.

The network is built outside the LightningModule, so the module's hyperparameters do not describe it. The model
config is taken, in order, from the checkpoint's ``"emozoo"`` entry (written by ``EmotionModule.on_save_checkpoint``
through ``emozoo.zoo.format.model_record``), from an experiment config given with ``--config``, or from the
run's resolved ``config.yaml`` found beside the checkpoint (``<checkpoint_dir>/<name>/<version>/<stage>/x.ckpt``
pairs with ``runs/<name>/<version>/config.yaml``). The run's ``report.json``, when found, goes into the model card.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from emozoo.errors import WeightsError
from emozoo.zoo.format import apply_preprocessing, describe, load_checked, model_record, rebuild, save_pretrained
from emozoo.zoo.schema import validate_record

__all__ = ["export_checkpoint", "find_checkpoint"]

_PREFIX = "model."  # EmotionModule holds the EmotionModel as `self.model`
_COMPILED = re.compile(r"(^|\.)_orig_mod\.")  # torch.compile(module) wrappers, if a user applied one


def find_checkpoint(path: str | Path) -> Path:
    """``path`` itself for a file; in a folder, the newest ``final.ckpt`` (a finished stage), else newest ``*.ckpt``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise WeightsError(f"checkpoint not found: {path} (give a .ckpt file or a run's checkpoint folder)")
    found = list(path.rglob("final.ckpt")) or [p for p in path.rglob("*.ckpt") if not p.name.startswith(".")]
    if not found:
        raise WeightsError(f"no .ckpt file under {path}; train first (`emozoo train`) or give the file")
    return max(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def _run_dir(ckpt: Path) -> Path | None:
    """``runs/<name>/<version>`` of a checkpoint at ``<root>/<name>/<version>/<stage>/x.ckpt``, if it exists."""
    if len(ckpt.parents) < 4:
        return None
    version, name = ckpt.parents[1].name, ckpt.parents[2].name
    for runs in (ckpt.parents[3].parent / "runs", Path.cwd() / "runs"):
        if (runs / name / version / "config.yaml").is_file():
            return runs / name / version
    return None


def _is_last_final(path: Path) -> bool:
    """True for the ``final.ckpt`` of a run's last finished stage (the model its test report describes)."""
    if path.name != "final.ckpt":
        return False
    finals = list(path.parents[1].glob("*/final.ckpt"))
    return max(finals, key=lambda p: p.stat().st_mtime_ns) == path


def _config_from_experiment(path: Path) -> dict[str, Any]:
    """The model record an experiment YAML builds (on the meta device; weights are not fetched: the checkpoint has
    them)."""
    from dataclasses import replace

    from emozoo.build import build_model
    from emozoo.config import load_config

    cfg = load_config(str(path))
    cfg = replace(cfg, backbone=replace(cfg.backbone, pretrained=None, compile=False))
    with torch.device("meta"):
        return model_record(build_model(cfg))


def _state_dict(ckpt: dict[str, Any], origin: Path) -> dict[str, torch.Tensor]:
    sd = ckpt.get("state_dict")
    if not isinstance(sd, dict):
        raise WeightsError(f"{origin}: no 'state_dict'; is it a Lightning checkpoint of `emozoo train`?")
    out = {_COMPILED.sub(r"\1", k[len(_PREFIX) :]): v for k, v in sd.items() if k.startswith(_PREFIX)}
    if not out:
        raise WeightsError(f"{origin}: no '{_PREFIX}*' keys in its state_dict (found {sorted(sd)[:3]})")
    return out


def export_checkpoint(checkpoint: str | Path, out: str | Path, config: str | Path | None = None) -> str:
    """Export a training checkpoint (or a run's checkpoint folder) to ``out``; returns a one-line summary.

    Raises:
        WeightsError: unsafe or foreign checkpoint, no way to know the model config, or mismatching weights.
    """
    path = find_checkpoint(checkpoint)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise WeightsError(f"refused to load {path}: not a plain tensor checkpoint ({first})") from None
    run = _run_dir(path)
    meta = ckpt.get("emozoo") if isinstance(ckpt, dict) else None
    if config is not None:
        meta = _config_from_experiment(Path(config))
    elif meta is None and run is not None:
        meta = _config_from_experiment(run / "config.yaml")
    if meta is None:
        raise WeightsError(
            f"{path} does not say which model it holds (no 'emozoo' entry) and no run config.yaml was found beside "
            "it; pass the experiment config: `emozoo zoo export CKPT OUT --config runs/<name>/<version>/config.yaml`"
        )
    sd = _state_dict(ckpt, path)
    try:  # the record as config.json will hold it (tuples as lists), checked like one
        record = validate_record(json.loads(json.dumps(meta, allow_nan=False)), path)
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{path}: its 'emozoo' entry is not a model record ({err})") from None
    model = rebuild(record["model"], path)
    load_checked(model, sd, str(path), describe(record["model"]), "Is --config the run's config?")
    apply_preprocessing(model, record)
    report = None
    if run is not None and _is_last_final(path) and (run / "report.json").is_file():
        report = json.loads((run / "report.json").read_text())  # the run's report describes its final model only
    experiment = path.parents[2].name if run is not None else None
    save_pretrained(model.eval(), out, report=report, experiment=experiment)
    return f"exported {path} ({describe(record['model'])}, step {ckpt.get('global_step', '?')}) to {out}"
