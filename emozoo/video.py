"""Video input: frames sampled at a fixed rate, decoded by PyAV (whose wheels carry FFmpeg), in bounded memory.

``iter_frames`` is a generator over one decoder: it holds one decoded frame at a time and converts to PIL only
the frames it yields, so a one-hour clip needs the memory of a one-minute clip. A file that breaks part-way
yields every frame it could decode, then raises :class:`VideoError` (one line; ``frames_read`` and ``time``
say how far it got), so the caller keeps what it has and reports the rest.

Frames come the way a player shows them: a phone clip held upright is stored sideways with a display-matrix
rotation, which ``upright`` applies, as FFmpeg's player and ``ffmpeg`` itself do (``autorotate``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from emozoo.errors import ConfigError, DataError

__all__ = ["VIDEO_SUFFIXES", "VideoError", "VideoFrame", "is_video", "iter_frames", "upright"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
# a clip whose last decoded frame ends this much before the container's stated duration was cut short
_TRUNCATION_SLACK_S = 1.0


class VideoError(DataError):
    """A video could not be opened or broke part-way; ``frames_read`` frames were yielded before it."""

    def __init__(self, message: str, frames_read: int = 0, time: float | None = None):
        super().__init__(message)
        self.frames_read, self.time = frames_read, time


@dataclass(frozen=True)
class VideoFrame:
    """A sampled frame: ``time`` in seconds from the start, ``frame`` its index in the source stream."""

    time: float
    frame: int
    image: Image.Image


def is_video(path: str | Path) -> bool:
    """Whether ``path``'s suffix is a video container emozoo reads."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


_QUARTER_TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def upright(image: Image.Image, rotation: float) -> Image.Image:
    """``image`` turned the way its display matrix says: ``rotation`` degrees counterclockwise (PyAV's
    ``VideoFrame.rotation``; a phone held upright records -90). Quarter turns are exact (a transpose)."""
    turn = round(rotation) % 360
    if turn == 0:
        return image
    if turn in _QUARTER_TURNS:
        return image.transpose(_QUARTER_TURNS[turn])
    return image.rotate(rotation, resample=Image.BILINEAR, expand=True)


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def iter_frames(path: str | Path, fps: float = 2.0) -> Iterator[VideoFrame]:
    """Frames of the video at ``path``, one every ``1 / fps`` seconds (the first frame at or after each tick).

    Args:
        path: an mp4, mov, mkv, webm or avi file (anything FFmpeg opens works).
        fps: samples per second; a value above the video's own rate yields every frame.

    Raises:
        ConfigError: ``fps`` is not positive.
        VideoError: the file cannot be opened, has no video stream, or is corrupt or truncated part-way
            (after the frames decoded so far have been yielded).
    """
    import av  # PyAV: imported on first use, so image-only runs never load FFmpeg

    if not fps > 0:
        raise ConfigError(f"fps={fps!r}: the sampling rate must be a positive number of frames per second")
    path = Path(path)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise VideoError(f"{path}: cannot open as a video ({_one_line(e)}); is it a complete video file?") from None
    with container:
        if not container.streams.video:
            raise VideoError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame- and slice-threaded decoding: free speed, memory stays per-frame
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        duration = float(container.duration / av.time_base) if container.duration else None
        yielded, tick, last = 0, 0, None
        try:
            for decoded in container.decode(stream):
                t = float(decoded.time) - start if decoded.time is not None else (last or 0.0) + 1 / rate
                last = t
                # a frame is due when it reaches the next tick; a tiny tolerance absorbs pts rounding
                if t + 1e-3 / rate < tick / fps:
                    continue
                image = upright(decoded.to_image(), decoded.rotation)  # as a player shows it
                yield VideoFrame(round(t, 6), int(round(t * rate)), image)
                yielded += 1
                tick = int(t * fps + 1e-6) + 1
        except av.error.FFmpegError as e:
            at = f"{last:.2f} s" if last is not None else "the start"
            raise VideoError(
                f"{path}: video is corrupt after {yielded} sampled frames, at {at} ({_one_line(e)})", yielded, last
            ) from None
        if last is None:
            raise VideoError(f"{path}: no frame could be decoded; the file is empty or corrupt", 0, None)
        if duration is not None and last + 1 / rate < duration - _TRUNCATION_SLACK_S:
            raise VideoError(
                f"{path}: video is truncated: it stops at {last:.2f} s of {duration:.2f} s "
                f"after {yielded} sampled frames",
                yielded,
                last,
            )
