"""``FacePrediction``: one face's result, as ``model.predict`` returns it and ``emozoo predict`` writes it.

A record holds where the face is (``image``, ``face`` index, ``box`` in original pixels, ``landmarks``,
``detector_score``), then the 40 intensities (0–7, by emotion name), the distribution over the 40 (sums to 1), the
top-k emotions and, for models that have them, the extra dimensions (valence, arousal, ...). The top-k are ranked
by ``rank_by`` (intensity by default), ties broken by the other output, so they always agree with the numbers.
An input in which the crop stage found no face gives a record with ``face`` None that says ``faces: 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from emozoo.taxonomy import NAMES

__all__ = ["RANK_BY", "FacePrediction", "face_predictions"]

RANK_BY = ("intensity", "distribution")


def _ranked(primary: list[float], secondary: list[float], k: int) -> list[int]:
    return sorted(range(len(primary)), key=lambda i: (-primary[i], -secondary[i]))[:k]


@dataclass
class FacePrediction:
    """The model's outputs for one face (or, with ``face`` None, the note that an image has none)."""

    image: str
    face: int | None
    box: list[float] | None = None
    landmarks: list[list[float]] | None = None
    detector_score: float | None = None
    intensity: dict[str, float] = field(default_factory=dict)
    distribution: dict[str, float] = field(default_factory=dict)
    top_k: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, float] | None = None
    time: float | None = None  # video frames: seconds from the start
    frame: int | None = None  # video frames: index in the source stream
    track: int | None = None  # video frames: the face's track id, stable across frames
    rank_by: str = field(default="intensity", repr=False)

    def top(self, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` highest emotions (by ``rank_by``) as ``{"emotion", "intensity", "probability"}``."""
        if not self.intensity:
            return []
        inten, dist = list(self.intensity.values()), list(self.distribution.values())
        primary, secondary = (inten, dist) if self.rank_by == "intensity" else (dist, inten)
        names = list(self.intensity)
        return [
            {"emotion": names[i], "intensity": inten[i], "probability": dist[i]} for i in _ranked(primary, secondary, k)
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON record ``emozoo predict`` writes."""
        where = {k: v for k in ("time", "frame", "track") if (v := getattr(self, k)) is not None}
        if self.face is None:
            return {"image": self.image, **where, "faces": 0}
        rec = {
            "image": self.image,
            **where,
            "face": self.face,
            "box": self.box,
            "landmarks": self.landmarks,
            "detector_score": self.detector_score,
            "top_k": self.top_k,
            "intensity": self.intensity,
            "distribution": self.distribution,
        }
        if self.extra is not None:
            rec["extra"] = self.extra
        return rec


def face_predictions(
    faces: list[dict[str, Any]],
    outputs: dict[str, torch.Tensor],
    top_k: int = 5,
    rank_by: str = "intensity",
    extra_names: tuple[str, ...] = (),
) -> list[FacePrediction]:
    """One ``FacePrediction`` per crop of a batch: ``faces`` (the crops' fields, ``image_key`` first) and the
    model's ``outputs`` for them, row by row."""
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be one of {RANK_BY}, got {rank_by!r}")
    inten = outputs["intensity"].tolist()
    dist = outputs["distribution"].tolist()
    extra = outputs["extra"].tolist() if "extra" in outputs else None
    preds = []
    for n, meta in enumerate(faces):
        pred = FacePrediction(
            image=meta["image_key"],
            face=meta["face"],
            box=meta["box"],
            landmarks=meta["landmarks"],
            detector_score=meta["detector_score"],
            time=meta.get("time"),
            frame=meta.get("frame"),
            track=meta.get("track"),
            intensity=dict(zip(NAMES, inten[n])),
            distribution=dict(zip(NAMES, dist[n])),
            rank_by=rank_by,
        )
        pred.top_k = pred.top(top_k)
        if extra is not None:
            pred.extra = dict(zip(extra_names or [f"extra_{j}" for j in range(len(extra[n]))], extra[n]))
        preds.append(pred)
    return preds
