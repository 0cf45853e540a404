"""Faces and video: detector quality and speed, crop framing, video decoding speed and memory.

    python bench/faces.py [--parts quality,framing,speed,video,rss] [--threads 1] [--haar /path/to/site-packages]

- **quality**: recall, false positives and box IoU of the detectors on scenes of pasted faces (the astronaut and
  SynthFace faces at 3 sizes, 5 roll angles from -30 to +30 degrees, on a noisy 1024 x 768 canvas; ground truth from
  tests/faces/scenes.py), and recall on plain SynthFace close-ups. OpenCV's Haar cascade is measured beside MTCNN
  when ``--haar`` points at a folder holding an ``opencv-python-headless<5`` install (OpenCV 5 dropped the cascades).
- **framing**: IoU of the aligned crop's square with the whole frame of a close-up (SynthFace, and the astronaut
  framed the way SynthFace frames its faces).
- **speed**: detection + alignment per scene vs a vit-b16 classifier forward (random weights) on the same scenes.
- **video**: ``iter_frames`` at 2 fps vs reading the same sampled frames from JPEG files, decode only and with
  ``crop_faces``; paired rounds, median ratio.
- **rss**: peak RSS of a child process that streams a clip vs one 10x longer (``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.faces.scenes: the shared ground truth

from _common import cpu_name  # noqa: E402  (bench/ is on sys.path when a script runs)

from emozoo.faces import crop_faces, get_detector  # noqa: E402
from emozoo.faces.align import crop_square  # noqa: E402
from emozoo.faces.detector import DetectedFace  # noqa: E402
from emozoo.video import iter_frames  # noqa: E402
from tests.faces.scenes import astronaut, box_iou, paste, scene, synthface, write_video  # noqa: E402


def _scenes(sources) -> list[tuple[Image.Image, list]]:
    """15 scenes of 4 faces: each source at 3 widths, all at the same roll angle per scene."""
    out = []
    for k, angle in enumerate((-30, -15, 0, 15, 30)):
        for j, width in enumerate((70, 120, 200)):
            spots = [(200, 180), (620, 200), (260, 560), (760, 560)]
            out.append(scene([(s, width, angle, spots[i]) for i, s in enumerate(sources)], seed=10 * k + j))
    return out


class Haar:
    """OpenCV's frontal-face Haar cascade (box only, no landmarks), as a comparison."""

    def __init__(self, site: str):
        sys.path.insert(0, site)
        import cv2

        self.cv2 = cv2
        self.net = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))

    def detect(self, image: Image.Image) -> list[DetectedFace]:
        grey = np.asarray(image.convert("L"))
        boxes = self.net.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(32, 32))
        return [DetectedFace((x, y, x + w, y + h), None, 1.0) for x, y, w, h in boxes]


def quality(detectors: dict, sources) -> None:
    scenes = _scenes(sources)
    closeups = [synthface(i).image for i in range(60)]
    print(f"quality: {len(scenes)} scenes x {len(sources)} faces, rolls -30..30; {len(closeups)} SynthFace close-ups")
    for name, det in detectors.items():
        hits, ious, false, by_angle = 0, [], 0, {}
        start = time.perf_counter()
        for image, placed in scenes:
            faces = det.detect(image)
            used = set()
            for p in placed:
                scores = [(box_iou(f.box, p.box), i) for i, f in enumerate(faces) if i not in used]
                best = max(scores, default=(0.0, -1))
                found = best[0] > 0.5
                by_angle.setdefault(p.angle, []).append(found)
                if found:
                    hits, used = hits + 1, used | {best[1]}
                    ious.append(best[0])
            false += len(faces) - len(used)
        secs = (time.perf_counter() - start) / len(scenes)
        close = sum(bool(det.detect(im)) for im in closeups)
        total = sum(len(p) for _, p in scenes)
        angles = ", ".join(f"{a:+d}°: {np.mean(v):.0%}" for a, v in sorted(by_angle.items()))
        print(
            f"  {name:6s} recall {hits}/{total} ({hits / total:.0%}; {angles}), false positives {false}, "
            f"mean IoU {np.mean(ious):.2f}, SynthFace close-ups found {close}/{len(closeups)}, {secs:.2f} s/scene"
        )


def _crop_box_iou(face: DetectedFace, size) -> float:
    centre, side, _ = crop_square(face)
    return box_iou((*(centre - side / 2), *(centre + side / 2)), (0, 0, *size))


def framing(sources) -> None:
    det = get_detector()
    ious = []
    for i in range(60):
        img = synthface(i).image
        faces = det.detect(img)
        if faces:
            ious.append(_crop_box_iou(max(faces, key=lambda f: f.area), img.size))
    # the astronaut framed like SynthFace: face box width = 0.53 x frame (SynthFace's mean oval width), centred
    astro = sources[0]
    canvas = Image.new("RGB", (256, 256))
    paste(canvas, astro, face_width=0.53 * 256, angle=0, centre=(128, 128))
    face = det.detect(canvas)[0]
    q = np.percentile(ious, [10, 50, 90])
    print(
        f"framing: crop square vs whole close-up, IoU over {len(ious)} SynthFace faces: p10 {q[0]:.2f}, "
        f"median {q[1]:.2f}, p90 {q[2]:.2f}; astronaut close-up {_crop_box_iou(face, canvas.size):.2f}"
    )


def speed(sources, threads: int, rounds: int = 3) -> None:
    import torch

    import emozoo

    torch.set_num_threads(threads)
    images = [img for img, _ in _scenes(sources)[::3]]
    model = emozoo.create_model(backbone="vit-b16", pretrained=None).eval()
    x = torch.randn(1, 3, 224, 224)
    det = get_detector()
    ratios, t_det, t_vit = [], [], []
    with torch.inference_mode():
        model(x), det.detect(images[0])  # warm-up
        for _ in range(rounds):
            t0 = time.perf_counter()
            n_faces = sum(len(crop_faces(img, "all", det, output_size=224)) for img in images)
            t1 = time.perf_counter()
            for _ in images:
                model(x)
            t2 = time.perf_counter()
            t_det.append((t1 - t0) / len(images))
            t_vit.append((t2 - t1) / len(images))
            ratios.append(t_det[-1] / t_vit[-1])
    print(
        f"speed ({threads} thread(s)): detection + alignment {min(t_det) * 1e3:.0f} ms per 1024x768 scene "
        f"({n_faces // len(images)} faces), vit-b16 forward {min(t_vit) * 1e3:.0f} ms per image; "
        f"ratio {statistics.median(ratios):.2f}x (median of {rounds} paired rounds; goal <= 0.5x)"
    )


def _clip_frames(n: int, size=(640, 480)):
    """A face that drifts across the frame and back: 40 distinct frames, cycled (building scenes is slow)."""
    astro = astronaut()
    # one background for every frame (seed 0): per-frame noise would be a worst case no camera produces
    frames = [scene([(astro, 150, 0, (150 + 8 * t, 220))], size=size, seed=0)[0] for t in range(40)]
    for t in range(n):
        k = t % 80
        yield frames[k if k < 40 else 79 - k]


def video(tmp: Path, rounds: int = 2) -> None:
    import torch

    import emozoo

    model = emozoo.create_model(backbone="vit-b16", pretrained=None).eval()

    def classify(image: Image.Image) -> None:  # what predict does per frame: find faces, run the model on each
        for crop in crop_faces(image, output_size=224):
            x = torch.from_numpy(np.asarray(crop.image, dtype=np.float32)).permute(2, 0, 1)[None] / 255
            with torch.inference_mode():
                model(x)

    clip = tmp / "clip.mp4"
    write_video(clip, _clip_frames(300), fps=30)  # 10 s at 30 fps, sampled at 2 fps: 20 frames
    files = []
    for f in iter_frames(clip, fps=2):
        files.append(tmp / f"frame{f.frame:05d}.jpg")
        f.image.save(files[-1], quality=95)
    steps = (("decode only", lambda im: im.load()), ("+ crop_faces", crop_faces), ("+ crop_faces + vit-b16", classify))
    for label, work in steps:
        ratios = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for f in iter_frames(clip, fps=2):
                work(f.image)
            t1 = time.perf_counter()
            for p in files:
                work(Image.open(p).convert("RGB"))
            t2 = time.perf_counter()
            ratios.append((t2 - t1) / (t1 - t0))
        print(
            f"video, {label}: {len(files)} frames of a 10 s 640x480 30 fps clip at 2 fps vs the same {len(files)} "
            f"JPEG files: throughput ratio {statistics.median(ratios):.2f}x (goal >= 0.9x)"
        )


def _rss_worker(path: str) -> None:
    n = sum(1 for _ in iter_frames(path, fps=2))
    print(n)


def rss(tmp: Path) -> None:
    short, long_ = tmp / "short.mp4", tmp / "long.mp4"
    write_video(short, _clip_frames(10 * 30, (320, 240)), fps=10)  # 30 s
    write_video(long_, _clip_frames(10 * 300, (320, 240)), fps=10)  # 300 s
    peaks = []
    for path in (short, long_):
        # a fresh parent per clip, so RUSAGE_CHILDREN holds only that clip's worker
        code = (
            "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, sys.executable, __file__, "--rss-worker", str(path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        peaks.append(int(out.stdout.split()[-1]) / 1024)
    print(
        f"rss: peak {peaks[0]:.0f} MiB streaming a 30 s clip, {peaks[1]:.0f} MiB for a 300 s clip: "
        f"{peaks[1] / peaks[0]:.2f}x (goal: within 10%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="quality,framing,speed,video,rss")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--haar", default=None, help="site-packages folder with opencv-python-headless<5")
    parser.add_argument("--rss-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_worker:
        return _rss_worker(args.rss_worker)
    import torch

    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_name()}; torch threads {args.threads}")
    parts = set(args.parts.split(","))
    sources = [astronaut()] + [synthface(i) for i in (0, 2, 3)]
    if "quality" in parts:
        detectors = {"mtcnn": get_detector("mtcnn")}
        if args.haar:
            detectors["haar"] = Haar(args.haar)
        quality(detectors, sources)
    if "framing" in parts:
        framing(sources)
    if "speed" in parts:
        speed(sources, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        if "video" in parts:
            video(Path(tmp))
        if "rss" in parts:
            rss(Path(tmp))


if __name__ == "__main__":
    main()
