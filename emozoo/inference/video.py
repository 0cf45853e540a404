"""Videos for ``predict``: frames sampled at ``fps``, faces found, aligned and tracked, in bounded memory.

Each video is read by one loader worker (decoding and face detection overlap with the model), frame by frame:
nothing holds more than the frames of a batch, so a one-hour clip uses what a one-minute clip uses. Every item is
one sampled frame: its faces carry ``time`` (s), ``frame`` (index in the source stream) and ``track`` (stable
across frames, from ``emozoo.faces.IoUTracker``). A frame without a face gives a ``faces: 0`` record with its time.
A corrupt or truncated video yields the frames it could decode, then an error item that the caller reports: the
records already made are kept and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from emozoo.inference.inputs import _collate, crop_items

__all__ = ["VideoFrames", "video_loader"]


class VideoFrames(IterableDataset):
    """Sampled frames of videos as loader items (``_collate``'s format), each video read by exactly one worker."""

    def __init__(self, paths: Sequence[Path], faces: str, transform: Callable, fps: float):
        self.paths, self.faces, self.transform, self.fps = [Path(p) for p in paths], faces, transform, fps

    def _mine(self) -> list[Path]:
        info = get_worker_info()
        return self.paths if info is None else self.paths[info.id :: info.num_workers]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from emozoo.faces import faces_in_video

        for path in self._mine():
            key = str(path)
            try:
                for frame, tracked in faces_in_video(path, fps=self.fps, mode=self.faces):
                    where = {"time": round(frame.time, 6), "frame": frame.frame}
                    crops = [crop for _, crop in tracked]
                    tracks = None if self.faces == "none" else [track for track, _ in tracked]
                    faces = crop_items(crops, self.transform, {**where, "tracks": tracks})
                    yield {"key": key, "faces": faces, "where": where, "error": None}
            except Exception as err:  # a broken video is reported after its decoded frames; the run goes on
                yield {"key": key, "faces": [], "error": f"{type(err).__name__}: {str(err)[:200]}"}


def video_loader(
    paths: Sequence[Path], faces: str, transform: Callable, fps: float, batch_size: int, workers: int, pin: bool
) -> DataLoader:
    """A loader of frame batches over ``paths`` (``workers`` processes at most, one per video)."""
    n = min(workers, len(paths))
    kw = {"prefetch_factor": 2, "persistent_workers": False} if n > 0 else {}
    frames = VideoFrames(paths, faces, transform, fps)
    return DataLoader(frames, batch_size=batch_size, num_workers=n, collate_fn=_collate, pin_memory=pin, **kw)
