"""The sample schema (DESIGN.md §3): validate a sample's ``json`` and derive training targets from it.

Targets are derived here, never stored in the shards: ``intensity``/``intensity_mask`` from per-rater ratings
(their mean) or weak labels, ``binary_yes``/``binary_n`` from yes/no answers, ``distribution`` from the intensities,
and ``ratings`` (R, 40) with NaN where a rater gave none, for the agreement protocol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from emozoo.taxonomy import NUM_EMOTIONS, emotion_index

__all__ = ["BadSample", "derive_targets", "validate_labels"]

SOURCES = ("synthface", "emonet-hq", "emonet-binary", "emonet-big")
TARGETS = ("weak", "binary", "ratings")


class BadSample(ValueError):
    """A sample that cannot be used; the pipeline skips and counts it."""


def _vector(value: Any, what: str, lo: float = 0.0, hi: float = 7.0) -> list[float]:
    if not isinstance(value, list) or len(value) != NUM_EMOTIONS:
        n = len(value) if isinstance(value, list) else type(value).__name__
        raise BadSample(f"{what}: expected a list of {NUM_EMOTIONS} numbers, got {n}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise BadSample(f"{what}: value {v!r} is not a finite number in [{lo}, {hi}]")
        out.append(float(v))
    return out


def validate_labels(meta: Any) -> dict[str, Any]:
    """Check a sample's label dict and return it normalised (canonical emotion names, floats).

    Raises:
        BadSample: wrong type, wrong vector length, NaN/inf/out-of-range ratings, or an unknown emotion.
    """
    if not isinstance(meta, dict):
        raise BadSample(f"json: expected an object, got {type(meta).__name__}")
    ratings = {}
    for rater, vec in (meta.get("ratings") or {}).items():
        ratings[str(rater)] = None if vec is None else _vector(vec, f"ratings[{rater}]")
    binary: dict[int, dict[str, bool]] = {}
    for name, answers in (meta.get("binary") or {}).items():
        try:
            idx = emotion_index(name)
        except KeyError as err:
            raise BadSample(str(err.args[0])) from None
        if not isinstance(answers, dict) or not all(isinstance(a, bool) for a in answers.values()):
            raise BadSample(f"binary[{name}]: expected {{rater: true/false}}")
        binary.setdefault(idx, {}).update({str(r): a for r, a in answers.items()})
    weak = meta.get("weak")
    weak = None if weak is None else _vector(weak, "weak")
    return {**meta, "ratings": ratings, "binary": binary, "weak": weak}


def derive_targets(
    labels: dict[str, Any], targets: Sequence[str] = TARGETS, rater_index: dict[str, int] | None = None
) -> dict[str, torch.Tensor]:
    """Training targets for one validated sample.

    Args:
        labels: the output of ``validate_labels``.
        targets: which label fields may drive the loss (a stage trains on some of them).
        rater_index: rater id to column of the dense ``ratings`` tensor; None leaves ``ratings`` out.
    """
    intensity = torch.zeros(NUM_EMOTIONS)
    imask = torch.zeros(NUM_EMOTIONS, dtype=torch.bool)
    rated = [v for v in labels["ratings"].values() if v is not None]
    if "ratings" in targets and rated:
        intensity = torch.tensor(rated, dtype=torch.float32).mean(0)
        imask[:] = True
    elif "weak" in targets and labels["weak"] is not None:
        intensity = torch.tensor(labels["weak"], dtype=torch.float32)
        imask[:] = True
    yes = torch.zeros(NUM_EMOTIONS)
    n = torch.zeros(NUM_EMOTIONS)
    if "binary" in targets:
        for idx, answers in labels["binary"].items():
            if answers:
                n[idx] = len(answers)
                yes[idx] = sum(answers.values()) / len(answers)
    total = intensity.sum()
    dmask = bool(imask.all() and total > 0)
    distribution = intensity / total if dmask else torch.full((NUM_EMOTIONS,), 1.0 / NUM_EMOTIONS)
    out = {
        "intensity": intensity,
        "intensity_mask": imask,
        "binary_yes": yes,
        "binary_n": n,
        "distribution": distribution,
        "distribution_mask": torch.tensor(dmask),
    }
    if rater_index is not None:
        dense = torch.full((len(rater_index), NUM_EMOTIONS), float("nan"))
        for rater, vec in labels["ratings"].items():
            if vec is not None and rater in rater_index:
                dense[rater_index[rater]] = torch.tensor(vec)
        out["ratings"] = dense
    return out
