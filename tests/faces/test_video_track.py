"""Video sampling, truncated files, and face tracks across frames of videos built with PyAV."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from emozoo.errors import ConfigError, DataError
from emozoo.faces.timeline import plot_timeline
from emozoo.faces.track import IoUTracker, faces_in_video, iou_matrix
from emozoo.video import VideoError, is_video, iter_frames
from tests.faces.scenes import astronaut, box_iou, scene, write_video


def _numbered(n: int, size=(96, 64)) -> list[Image.Image]:
    """Frames whose brightness encodes their index (i * 8), so a decoded frame says which one it is."""
    return [Image.new("RGB", size, (i * 8 % 256, 40, 200 - i)) for i in range(n)]


CONTAINERS = [(".mp4", "libx264"), (".mov", "libx264"), (".mkv", "libx264"), (".webm", "libvpx"), (".avi", "mjpeg")]


@pytest.mark.parametrize("suffix,codec", CONTAINERS)
def test_frames_are_sampled_at_the_requested_rate(tmp_path, suffix, codec):
    path = tmp_path / f"clip{suffix}"
    write_video(path, _numbered(30), fps=10, codec=codec)  # 3 s at 10 fps
    assert is_video(path)
    frames = list(iter_frames(path, fps=2))
    assert [f.frame for f in frames] == [0, 5, 10, 15, 20, 25]
    np.testing.assert_allclose([f.time for f in frames], [0, 0.5, 1, 1.5, 2, 2.5], atol=1e-3)
    for f in frames:  # the pixels really are source frame f.frame
        assert f.image.size == (96, 64)
        assert abs(np.asarray(f.image)[..., 0].mean() - f.frame * 8) < 6


def test_rates_above_the_source_give_every_frame(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, _numbered(12), fps=4)
    assert [f.frame for f in iter_frames(path, fps=30)] == list(range(12))
    assert [f.frame for f in iter_frames(path, fps=1)] == [0, 4, 8]
    with pytest.raises(ConfigError, match="positive"):
        next(iter_frames(path, fps=0))


def test_truncated_video_gives_what_it_decoded_then_one_line_error(tmp_path):
    full = tmp_path / "full.mkv"  # Matroska: frames come before the index, so a cut file still opens
    write_video(full, _numbered(200, size=(160, 120)), fps=10)
    cut = tmp_path / "cut.mkv"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(VideoError) as err:
        for f in iter_frames(cut, fps=2):
            got.append(f)
    assert 2 < len(got) < 38 and err.value.frames_read == len(got)
    assert "cut.mkv" in str(err.value) and "\n" not in str(err.value)
    assert [f.frame for f in got] == list(range(0, 5 * len(got), 5))  # what came out is right


def test_garbage_and_missing_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    for path in (bad, tmp_path / "missing.mp4"):
        with pytest.raises(DataError) as err:
            list(iter_frames(path))
        assert path.name in str(err.value) and "\n" not in str(err.value)


def test_iou_matrix_matches_torchvision():
    import torch
    from torchvision.ops import box_iou as reference

    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 100, (7, 2, 2)), axis=1).reshape(7, 4)[:, [0, 2, 1, 3]]
    b = np.sort(rng.uniform(0, 100, (5, 2, 2)), axis=1).reshape(5, 4)[:, [0, 2, 1, 3]]
    np.testing.assert_allclose(iou_matrix(a, b), reference(torch.tensor(a), torch.tensor(b)).numpy(), atol=1e-9)


def test_tracker_keeps_ids_through_crossing_paths_and_missed_frames():
    tracker = IoUTracker(max_missed=2)
    ids = []
    for t in range(10):
        a = [10 + 12 * t, 10, 60 + 12 * t, 60]  # moves right
        b = [130 - 12 * t, 40, 180 - 12 * t, 90]  # moves left, passes a around t = 5
        names = ("b", "a") if t % 2 else ("a", "b")  # detection order changes too
        if t in (3, 4):
            names = ("a",)  # b is missed for two frames
        out = tracker.update([{"a": a, "b": b}[n] for n in names])
        ids.append(dict(zip(names, out)))
    assert {d["a"] for d in ids} == {0} and {d["b"] for d in ids if "b" in d} == {1}
    assert tracker.update([[500, 500, 550, 550]]) == [2]  # a new face gets a new id
    for _ in range(3):
        tracker.update([])
    assert tracker.update([[10 + 12 * 9, 10, 60 + 12 * 9, 60]]) == [3]  # retired after max_missed


@pytest.mark.slow
def test_faces_in_a_video_keep_their_tracks(tmp_path):
    """A face that moves and two faces that cross: detection + tracking on decoded frames of a real video."""
    astro = astronaut()
    frames, truth = [], []
    for t in range(16):  # 4 s at 4 fps
        x = 100 + 22 * t
        image, placed = scene([(astro, 100, 0, (x, 110)), (astro, 100, 10, (460 - 22 * t, 300))], size=(560, 400))
        frames.append(image)
        truth.append(placed)
    path = tmp_path / "two.mp4"
    write_video(path, frames, fps=4)
    records = []
    for vf, faces in faces_in_video(path, fps=2):
        for track, c in faces:
            placed = truth[vf.frame]
            which = max(range(2), key=lambda k: box_iou(c.box, placed[k].box))
            assert box_iou(c.box, placed[which].box) > 0.5
            records.append({"time": vf.time, "track": track, "who": which, "intensity": {"joy": vf.time, "awe": 1.0}})
    assert len(records) == 2 * 8
    assert {(r["who"], r["track"]) for r in records} in ({(0, 0), (1, 1)}, {(0, 1), (1, 0)})
    out = plot_timeline(records, tmp_path / "plots" / "two.png", title="two.mp4")
    (frame, whole), *_ = faces_in_video(path, fps=0.5, mode="none")
    assert frame.frame == 0 and whole[0][0] is None and whole[0][1].image.size == (560, 400)
    assert Image.open(out).size[0] > 400


def _sideways(path, rotation: float, size=(64, 32)) -> None:
    """A clip stored ``size`` with a white band on the left, and a display matrix turning it ``rotation`` degrees."""
    import av

    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[:, : size[0] // 4] = 255
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(rotation)
        for _ in range(5):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize(
    ("rotation", "size", "band"),
    [
        (0, (64, 32), "left"),
        (90, (32, 64), "bottom"),  # counterclockwise: the left edge goes to the bottom
        (-90, (32, 64), "top"),  # a phone held upright: clockwise, the left edge goes to the top
        (180, (64, 32), "right"),
    ],
)
def test_frames_come_upright_as_a_player_shows_them(tmp_path, rotation, size, band):
    path = tmp_path / "phone.mp4"
    _sideways(path, rotation)
    [first, *_] = list(iter_frames(path, fps=10))
    assert first.image.size == size
    gray = np.asarray(first.image.convert("L"), dtype=float)
    h, w = gray.shape
    edges = {
        "left": gray[:, : w // 8].mean(),
        "right": gray[:, -w // 8 :].mean(),
        "top": gray[: h // 8].mean(),
        "bottom": gray[-h // 8 :].mean(),
    }
    assert max(edges, key=edges.get) == band and edges[band] > 200, edges
