"""Stable face ids across video frames, by box overlap.

Each frame's faces are matched to the live tracks by maximum total IoU (Hungarian, scipy); a match needs
IoU >= ``min_iou`` with where the track is predicted to be (its last box moved on at its last velocity, so a
face that moves steadily is not lost between samples). A track that misses up to ``max_missed`` sampled frames
(a blink of the detector, a hand in front of the face) keeps its id; after that a face gets a new id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["IoUTracker", "iou_matrix"]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) boxes in (x0, y0, x1, y1)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class _Track:
    id: int
    box: np.ndarray
    velocity: np.ndarray
    missed: int = 0

    def predicted(self) -> np.ndarray:
        return self.box + self.velocity * (self.missed + 1)


class IoUTracker:
    """Call :meth:`update` once per sampled frame, in time order.

    Args:
        min_iou: least overlap between a face and a track's last box to continue that track. At 2 fps a face
            that moves a third of its width between samples still overlaps by ~0.5; 0.3 leaves room for that.
        max_missed: frames a track may go unseen before its id is retired.
    """

    def __init__(self, min_iou: float = 0.3, max_missed: int = 2) -> None:
        self.min_iou, self.max_missed = min_iou, max_missed
        self._tracks: list[_Track] = []
        self._next = 0

    def update(self, boxes: Sequence[Sequence[float]]) -> list[int]:
        """Track ids for this frame's ``boxes`` (same order); unmatched faces start new tracks."""
        from scipy.optimize import linear_sum_assignment  # scipy only when a video is tracked

        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        ids = [-1] * len(boxes)
        if self._tracks and len(boxes):
            iou = iou_matrix(boxes, np.stack([t.predicted() for t in self._tracks]))
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.min_iou:
                    ids[r] = self._tracks[c].id
        found = {i: box for i, box in zip(ids, boxes) if i >= 0}
        for t in self._tracks:
            if t.id in found:
                t.velocity = (found[t.id] - t.box) / (t.missed + 1)
                t.box, t.missed = found[t.id], 0
            else:
                t.missed += 1
        for i, box in enumerate(boxes):
            if ids[i] < 0:
                ids[i] = self._next
                self._tracks.append(_Track(self._next, box, np.zeros(4)))
                self._next += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return ids
