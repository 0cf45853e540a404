"""What ``predict`` draws beside its records: bar charts per face, annotated photos, timelines per video track.

Records arrive in input order and all faces of one image (or one video frame) arrive together, so an annotated
photo is drawn when the next input starts, and a video's timeline when it is closed; nothing but the current
photo's boxes and the videos' per-frame intensities (40 floats a face) is held.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emozoo.inference_output import plot_name, plot_prediction

__all__ = ["Visuals"]


def _label_lines(record: dict[str, Any], k: int = 3) -> list[str]:
    return [f"{t['emotion']} {t['intensity']:.1f}" for t in record["top_k"][:k]]


class Visuals:
    """Bar charts (``plot``: one per face of a photo, one timeline per video), annotated photos (``annotate``)."""

    def __init__(self, plot: str | Path | None = None, annotate: str | Path | None = None):
        self.plot = None if plot is None else Path(plot)
        self.annotate = None if annotate is None else Path(annotate)
        self._photo: str | None = None
        self._boxes: list[tuple[list[float], list[str]]] = []
        self._videos: dict[str, list[dict[str, Any]]] = {}
        self.written: list[Path] = []

    def add(self, record: dict[str, Any]) -> None:
        """Take one record (a face, or an input with ``faces: 0``)."""
        if "time" in record:  # a video frame: a timeline per video, no per-frame pictures
            if self.plot is not None and "face" in record:
                keep = {k: record[k] for k in ("time", "track", "intensity")}
                self._videos.setdefault(record["image"], []).append(keep)
            return
        if self.plot is not None and "face" in record:
            self.written.append(plot_prediction(record, self.plot))
        if self.annotate is not None:
            if record["image"] != self._photo:
                self._draw_photo()
                self._photo = record["image"]
            if "face" in record:
                self._boxes.append((record["box"], _label_lines(record)))

    def _draw_photo(self) -> None:
        key, boxes = self._photo, self._boxes
        self._photo, self._boxes = None, []
        if key is None or not Path(key).is_file():  # shard samples and in-memory images have no file to draw on
            return
        from emozoo.faces import annotate
        from emozoo.images import load_image

        self.annotate.mkdir(parents=True, exist_ok=True)
        path = self.annotate / plot_name(key)
        annotate(load_image(key), boxes).save(path)
        self.written.append(path)

    def close(self) -> None:
        """Draw what is still pending: the last photo and every video's timeline."""
        if self.annotate is not None:
            self._draw_photo()
        if self.plot is not None:
            from emozoo.faces import plot_timeline

            for video, records in self._videos.items():
                out = self.plot / plot_name(video).replace(".png", "-timeline.png")
                self.written.append(plot_timeline(records, out, title=Path(video).name))
        self._videos = {}
