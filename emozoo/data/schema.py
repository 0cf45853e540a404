"""The sample schema (docs/architecture.md §5): validate a sample's ``json`` and derive training targets from it.

Targets are derived here, never stored in the shards: ``intensity``/``intensity_mask`` from per-rater ratings
(their mean) or weak labels, ``binary_yes``/``binary_n`` from yes/no answers, ``distribution`` from the intensities,
and ``ratings`` (R, 40) with NaN where a rater gave none, for the agreement protocol.

Both steps run once per sample in the loader workers, so they use numpy on whole vectors, not Python loops over
the 40 values or small torch operators (each torch call costs microseconds of dispatch, which at small image sizes
was as much as decoding the image). ``target_arrays`` gives numpy arrays the pipeline stacks per batch;
``derive_targets`` gives the same values as tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from emozoo.taxonomy import NUM_EMOTIONS, emotion_index

__all__ = ["IMAGE_KEYS", "BadSample", "derive_targets", "target_arrays", "validate_labels"]

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")  # a sample's image member, the first of these present
SOURCES = ("synthface", "emonet-hq", "emonet-binary", "emonet-big")
TARGETS = ("weak", "binary", "ratings")
_NUMBER_TYPES = frozenset((int, float))


class BadSample(ValueError):
    """A sample that cannot be used; the pipeline skips and counts it."""


def _vector(value: Any, what: str, lo: float = 0.0, hi: float = 7.0) -> np.ndarray:
    """``value`` as a float32 array of 40 numbers in [lo, hi]; ``BadSample`` naming the first offending value."""
    if not isinstance(value, list) or len(value) != NUM_EMOTIONS:
        n = len(value) if isinstance(value, list) else type(value).__name__
        raise BadSample(f"{what}: expected a list of {NUM_EMOTIONS} numbers, got {n}")
    # The type check is a set of types, not a loop: JSON gives int/float, and bool, str or None are wrong even
    # where numpy would convert them (True -> 1.0, "3" -> 3.0).
    if not set(map(type, value)) <= _NUMBER_TYPES:
        v = next(v for v in value if type(v) not in _NUMBER_TYPES)
        raise BadSample(f"{what}: value {v!r} is not a finite number in [{lo}, {hi}]")
    try:
        arr = np.array(value, dtype=np.float64)
    except OverflowError:  # a JSON integer beyond float64
        raise BadSample(f"{what}: a value is not a finite number in [{lo}, {hi}]") from None
    ok = np.isfinite(arr) & (arr >= lo) & (arr <= hi)
    if not ok.all():
        v = value[int(np.argmin(ok))]
        raise BadSample(f"{what}: value {v!r} is not a finite number in [{lo}, {hi}]")
    return arr.astype(np.float32)


def validate_labels(meta: Any) -> dict[str, Any]:
    """Check a sample's label dict and return it normalised.

    Returns:
        ``meta`` with ``ratings`` as {rater: float32 array (40,) or None}, ``binary`` as {emotion index: {rater:
        bool}} (canonical emotions: aliases and ``Family|Emotion`` keys resolved) and ``weak`` as a float32 array
        or None.

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


def target_arrays(
    labels: dict[str, Any], targets: Sequence[str] = TARGETS, rater_index: dict[str, int] | None = None
) -> dict[str, np.ndarray]:
    """Training targets for one validated sample, as numpy arrays (see ``derive_targets`` for the keys).

    Args:
        labels: the output of ``validate_labels``.
        targets: which label fields may drive the loss (a stage trains on some of them).
        rater_index: rater id to row of the dense ``ratings`` array; None leaves ``ratings`` out.
    """
    intensity = np.zeros(NUM_EMOTIONS, dtype=np.float32)
    imask = np.zeros(NUM_EMOTIONS, dtype=bool)
    rated = [v for v in labels["ratings"].values() if v is not None]
    if "ratings" in targets and rated:
        intensity = np.mean(rated, axis=0, dtype=np.float32)
        imask[:] = True
    elif "weak" in targets and labels["weak"] is not None:
        intensity = labels["weak"]
        imask[:] = True
    yes = np.zeros(NUM_EMOTIONS, dtype=np.float32)
    n = np.zeros(NUM_EMOTIONS, dtype=np.float32)
    if "binary" in targets:
        for idx, answers in labels["binary"].items():
            if answers:
                n[idx] = len(answers)
                yes[idx] = sum(answers.values()) / len(answers)
    total = float(intensity.sum())
    dmask = bool(imask[0] and total > 0)  # the mask is all or nothing
    distribution = intensity / np.float32(total) if dmask else np.full(NUM_EMOTIONS, 1.0 / NUM_EMOTIONS, np.float32)
    out = {
        "intensity": intensity,
        "intensity_mask": imask,
        "binary_yes": yes,
        "binary_n": n,
        "distribution": distribution,
        "distribution_mask": np.array(dmask),
    }
    if rater_index is not None:
        dense = np.full((len(rater_index), NUM_EMOTIONS), np.nan, dtype=np.float32)
        for rater, vec in labels["ratings"].items():
            if vec is not None and rater in rater_index:
                dense[rater_index[rater]] = vec
        out["ratings"] = dense
    return out


def derive_targets(
    labels: dict[str, Any], targets: Sequence[str] = TARGETS, rater_index: dict[str, int] | None = None
) -> dict[str, torch.Tensor]:
    """Training targets for one validated sample, as tensors (arguments as in ``target_arrays``).

    Returns:
        ``intensity`` (40,) float, ``intensity_mask`` (40,) bool, ``binary_yes`` (40,) fraction of yes answers,
        ``binary_n`` (40,) number of answers, ``distribution`` (40,) intensities normalised to sum 1,
        ``distribution_mask`` () bool, and with ``rater_index`` ``ratings`` (R, 40) with NaN where a rater gave
        none.
    """
    return {k: torch.from_numpy(v) for k, v in target_arrays(labels, targets, rater_index).items()}
