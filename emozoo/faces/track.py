"""Stable face ids across video frames, by box overlap; ``faces_in_video`` puts frames, crops and ids together.

Each frame's faces are matched to the live tracks by maximum total IoU (Hungarian, scipy); a match needs
IoU >= ``min_iou`` with where the track is predicted to be (its last box moved on at its last velocity, so a
face that moves steadily is not lost between samples). A track that misses up to ``max_missed`` sampled frames
(a blink of the detector, a hand in front of the face) keeps its id; after that a face gets a new id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from emozoo.faces.align import Crop
    from emozoo.video import VideoFrame

__all__ = ["IoUTracker", "faces_in_video", "iou_matrix"]


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


def faces_in_video(
    path,
    fps: float = 2.0,
    mode: str = "all",
    detector=None,
    *,
    output_size: int | None = None,
    tracker: IoUTracker | None = None,
) -> Iterator[tuple[VideoFrame, list[tuple[int | None, Crop]]]]:
    """Sampled frames of a video with their aligned faces, each paired with its track id.

    ``mode="none"`` gives the whole frame as one crop with track None. A frame with no face comes with ``[]``.
    A broken file raises :class:`emozoo.video.VideoError` after the frames it could decode, as ``iter_frames`` does.
    """
    from emozoo.faces.align import crop_faces
    from emozoo.video import iter_frames

    tracker = tracker or IoUTracker()
    for frame in iter_frames(path, fps=fps):
        crops = crop_faces(frame.image, mode, detector, output_size=output_size)
        ids = [None] * len(crops) if mode == "none" else tracker.update([c.box for c in crops])
        yield frame, list(zip(ids, crops))
