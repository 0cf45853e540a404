"""Neutral means of the Empathic-Insight heads: the per-emotion score of neutral faces, subtracted before the softmax.

Two sources are read: a JSON object keyed by emotion name, slug or ``model_<slug>_best`` (values are numbers or
``{"mean": x}``), and a JSONL of published outputs such as ``tests/fixtures/emonet/ferd.jsonl``, where each line's
``results[model_<slug>_best]`` has ``raw`` and ``mean_subtracted``: their difference is the neutral mean, and it
must be the same on every line (checked).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from emozoo.errors import WeightsError
from emozoo.taxonomy import NAMES, SLUGS, emotion_index

__all__ = ["NEUTRAL_FILES", "neutral_means_from_outputs", "read_neutral_means", "write_neutral_means"]

NEUTRAL_FILES = ("neutral_means.json", "neutral_stats.json", "mean_emotion_scores.json")
_CONSTANT_TOL = 1e-5  # raw - mean_subtracted is one float per head; the JSONL rounds it at about 1e-8


def _index(key: str) -> int | None:
    """The emotion a key names (name, slug or ``model_<slug>_best``), None for anything else."""
    try:
        return emotion_index(key.removeprefix("model_").removesuffix("_best"))
    except KeyError:
        return None


def neutral_means_from_outputs(path: str | Path) -> torch.Tensor:
    """(40,) float64 neutral means recovered from published outputs (``raw - mean_subtracted`` per head)."""
    path = Path(path)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise WeightsError(f"{path}: no lines; expected published outputs like ferd.jsonl")
    diffs = []
    for n, row in enumerate(rows, 1):
        try:
            res = row["results"]
            diffs.append([res[f"model_{s}_best"]["raw"] - res[f"model_{s}_best"]["mean_subtracted"] for s in SLUGS])
        except (KeyError, TypeError) as err:
            raise WeightsError(f"{path}:{n}: no results[model_<slug>_best].raw/mean_subtracted ({err})") from None
    d = torch.tensor(diffs, dtype=torch.float64)
    spread = (d.max(0).values - d.min(0).values).max().item()
    if spread > _CONSTANT_TOL:
        raise WeightsError(f"{path}: raw - mean_subtracted varies across lines (by {spread:.2g}); not one neutral mean")
    return d.mean(0)


def read_neutral_means(path: str | Path) -> torch.Tensor:
    """(40,) float64 neutral means from a JSON object, or from published outputs when ``path`` is ``.jsonl``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"neutral means file not found: {path}")
    if path.suffix == ".jsonl":
        return neutral_means_from_outputs(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise WeightsError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: expected a JSON object {{emotion: mean}}")
    means = torch.full((len(NAMES),), float("nan"), dtype=torch.float64)
    for key, value in data.items():
        i = _index(str(key))
        if i is None:
            continue  # extra dimensions (valence, ...) have no neutral mean in the softmax
        means[i] = float(value["mean"] if isinstance(value, dict) else value)
    if torch.isnan(means).any():
        missing = [NAMES[i] for i in torch.nonzero(torch.isnan(means)).flatten().tolist()]
        raise WeightsError(f"{path}: no neutral mean for {missing[:5]} ({len(missing)} missing)")
    return means


def write_neutral_means(means: torch.Tensor, path: str | Path) -> Path:
    """Write (40,) means as ``{model_<slug>_best: mean}``, the form ``read_neutral_means`` and the releases use."""
    path = Path(path)
    path.write_text(json.dumps({f"model_{s}_best": float(m) for s, m in zip(SLUGS, means.tolist())}, indent=2))
    return path
