"""SynthFace: emozoo's embedded synthetic benchmark, shaped like EmoNet-Face (docs/architecture.md §1, §5).

Every image is drawn from a hidden 40-dim emotion vector (``truth``, intensities 0..7) through facial action
parameters (``synthface.actions``), rendered with PIL (``synthface.render``), and labelled by simulated
annotators under the paper's three protocols (``synthface.raters``):

- ``big/train-*.tar``: Big-like weak VLM labels (``weak`` + ``extra``),
- ``binary/train-*.tar``: Binary-like yes/no answers on 2 queried emotions,
- ``hq/val-*.tar``, ``hq/test-*.tar``: HQ-like continuous ratings by ~4 of 8 simulated experts.

``truth`` is stored for diagnostics and tests only; training must never read it. Each sample depends only on
(seed, stream, index), so generation is parallel, resumable and byte-for-byte reproducible.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from emozoo.data.shardwriter import (
    MANIFEST,
    MANIFEST_FORMAT,
    ShardSetWriter,
    differences,
    plan_shards,
    read_json,
    sha256_file,
    write_json_atomic,
)
from emozoo.errors import DataError
from emozoo.synthface.actions import actions_from_latent
from emozoo.synthface.latent import sample_latent
from emozoo.synthface.people import describe, sample_person, sample_scene
from emozoo.synthface.raters import RaterPanel, binary_labels, hq_ratings, weak_labels
from emozoo.synthface.render import render_face
from emozoo.synthface.stats import LabelStats

__all__ = ["GENERATOR", "IMAGE_FORMATS", "VERSION", "SynthFaceConfig", "generate_synthface", "make_sample"]

GENERATOR = "synthface"
VERSION = "1.0.0"  # bump whenever the same parameters would give different images or labels
IMAGE_FORMATS = ("jpg", "png", "webp")
# stream -> its own random stream id, so big, binary, hq-val and hq-test images never repeat each other
_STREAMS = {"big": 1, "binary": 2, "hq-val": 3, "hq-test": 4}
_PARALLEL_MIN = 400  # below this many images, starting worker processes costs more than it saves


@dataclass(frozen=True)
class SynthFaceConfig:
    """What one sample depends on, besides its stream and index."""

    seed: int = 0
    image_size: int = 128
    image_format: str = "jpg"
    num_raters: int = 8
    raters_per_image: int = 4


def _encode(pixels: np.ndarray, image_format: str) -> bytes:
    buf = io.BytesIO()
    image = Image.fromarray(pixels)
    if image_format == "jpg":
        # quality 90 keeps files at a few KB; 4:4:4 chroma keeps small colour cues (blush, tint) intact
        image.save(buf, format="JPEG", quality=90, subsampling=0)
    elif image_format == "png":
        image.save(buf, format="PNG", compress_level=6)
    else:
        image.save(buf, format="WEBP", quality=90, method=4)
    return buf.getvalue()


def make_sample(cfg: SynthFaceConfig, panel: RaterPanel, stream: str, index: int, render: bool = True) -> dict:
    """One WebDataset sample (``__key__``, image bytes, ``json``); ``render=False`` skips the image."""
    children = np.random.SeedSequence([cfg.seed, _STREAMS[stream], index]).spawn(4)
    face, who, scene_rng, label_rng = (np.random.default_rng(s) for s in children)
    latent = sample_latent(face)
    person, scene = sample_person(who), sample_scene(scene_rng)
    meta = {
        "source": "synthface",
        "demographics": person["demographics"],
        "prompt": describe(latent, person, scene),
        "ratings": {},
        "binary": {},
        "weak": None,
        "extra": None,
        "truth": [round(float(v), 3) for v in latent],  # diagnostics and tests only: never a training target
    }
    if stream == "big":
        meta["weak"], meta["extra"] = weak_labels(label_rng, panel, latent)
    elif stream == "binary":
        meta["binary"] = binary_labels(label_rng, panel, latent)
    else:
        meta["ratings"] = hq_ratings(label_rng, panel, latent, cfg.raters_per_image)
    sample = {"__key__": f"sf-{stream}-{index:06d}"}
    if render:
        pixels = render_face(actions_from_latent(latent, face), person, scene, cfg.image_size)
        sample[cfg.image_format] = _encode(pixels, cfg.image_format)
    sample["json"] = meta
    return sample


_WORKER: tuple[SynthFaceConfig, RaterPanel] | None = None


def _init_worker(cfg: SynthFaceConfig) -> None:
    global _WORKER
    _WORKER = (cfg, RaterPanel.create(cfg.seed, cfg.num_raters))


def _job(task: tuple[str, int]) -> dict:
    return make_sample(*_WORKER, *task)


def _layout(num_big: int, num_binary: int, num_hq_val: int, num_hq_test: int) -> dict[str, list[tuple[str, str, int]]]:
    """subset -> [(split, stream, count)], without empty subsets."""
    layout = {
        "big": [("train", "big", num_big)],
        "binary": [("train", "binary", num_binary)],
        "hq": [("val", "hq-val", num_hq_val), ("test", "hq-test", num_hq_test)],
    }
    return {name: [s for s in splits if s[2] > 0] for name, splits in layout.items() if any(s[2] > 0 for s in splits)}


def _complete(out: Path, top: dict) -> bool:
    """Whether every shard listed by the subsets' manifests is on disk with its recorded size (no hashing)."""
    for name in top["subsets"]:
        sub = read_json(out / name / MANIFEST)
        if sub is None or sub.get("generator") != top["generator"]:
            return False
        for shard in sub["shards"]:
            path = out / name / shard["file"]
            if not path.is_file() or path.stat().st_size != shard["bytes"]:
                return False
    return True


def _write_subset(writer: ShardSetWriter, plan, done: set[str], results: Iterator[dict], labels_only, bar) -> dict:
    """Write one subset's pending shards from ``results`` (in plan order) and its manifest with label statistics.

    Shards in ``done`` are already on disk; their labels are regenerated without images for the statistics.
    """
    stats = LabelStats()

    def tap(samples):
        for sample in samples:
            stats.add(sample["json"])
            bar.update(1)
            yield sample

    for spec, stream in plan:
        if spec.file in done:
            for _ in tap(labels_only(stream, i) for i in range(spec.start, spec.stop)):
                pass
        else:
            writer.write(spec, tap(next(results) for _ in range(spec.count)))
    params = writer.generator["params"]
    return writer.finish(
        [spec for spec, _ in plan],
        name=f"{GENERATOR}/{writer.directory.name}",
        source=GENERATOR,
        image={"format": params["image_format"], "size": params["image_size"]},
        raters=sorted({r for item in stats.ratings for r in item} | set(stats.binary_raters)),
        label_stats=stats.summary(),
        note="`truth` is the hidden latent, for diagnostics and tests only; never train on it.",
    )


def generate_synthface(
    out_dir: str | Path,
    *,
    num_big: int = 6000,
    num_binary: int = 3000,
    num_hq_val: int = 300,
    num_hq_test: int = 1000,
    image_size: int = 128,
    seed: int = 0,
    shard_size: int = 1000,
    image_format: str = "jpg",
    num_raters: int = 8,
    raters_per_image: int = 4,
    progress: bool = True,
    num_workers: int | None = None,
) -> dict:
    """Generate the SynthFace shards under ``out_dir``; returns the top-level manifest.

    Calling it again with the same parameters is a quick no-op once the set is complete, and resumes an
    interrupted run; with different parameters it raises ``DataError``. ``num_workers`` (default: up to 2
    processes) and ``progress`` do not change the output.
    """
    if image_format not in IMAGE_FORMATS:
        raise DataError(f"image format {image_format!r} is not one of {', '.join(IMAGE_FORMATS)}")
    if image_size < 16 or not 1 <= raters_per_image <= num_raters:
        raise DataError(
            f"need image_size >= 16 and 1 <= raters_per_image <= num_raters, got {image_size}, "
            f"{raters_per_image}, {num_raters}"
        )
    if min(num_big, num_binary, num_hq_val, num_hq_test) < 0:
        raise DataError("sample counts must not be negative")
    cfg = SynthFaceConfig(seed, image_size, image_format, num_raters, raters_per_image)
    counts = {"num_big": num_big, "num_binary": num_binary, "num_hq_val": num_hq_val, "num_hq_test": num_hq_test}
    generator = {"name": GENERATOR, "version": VERSION, "params": {**counts, **asdict(cfg), "shard_size": shard_size}}
    out = Path(out_dir)
    top = read_json(out / MANIFEST)
    if top is not None:
        if top.get("generator") != generator:
            diff = "; ".join(differences(top.get("generator"), generator)[:6])
            raise DataError(
                f"{out} already holds a shard set made with other parameters ({diff}); "
                f"pick another --out, or delete {out} to regenerate."
            )
        if _complete(out, top):
            return top
    layout = _layout(**counts)
    writers = {name: ShardSetWriter(out / name, generator) for name in layout}  # refuses foreign shards up front
    plans = {
        name: [(spec, stream) for split, stream, n in splits for spec in plan_shards(split, n, shard_size)]
        for name, splits in layout.items()
    }
    pending = {(name, spec.file) for name, plan in plans.items() for spec, _ in plan if not writers[name].done(spec)}
    tasks = [
        (stream, i)
        for name, plan in plans.items()
        for spec, stream in plan
        if (name, spec.file) in pending
        for i in range(spec.start, spec.stop)
    ]
    workers = min(2, os.cpu_count() or 1) if num_workers is None else num_workers
    panel = RaterPanel.create(seed, num_raters)
    pool = None
    if workers > 1 and len(tasks) >= _PARALLEL_MIN:
        # fork where it is safe and fast (Linux); workers only use NumPy and PIL
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        pool = ctx.Pool(workers, initializer=_init_worker, initargs=(cfg,))
        results: Iterator[dict] = pool.imap(_job, tasks, chunksize=16)
    else:
        results = map(partial(make_sample, cfg, panel), *zip(*tasks)) if tasks else iter(())
    total = sum(n for splits in layout.values() for _, _, n in splits)
    subsets = {}
    try:
        with tqdm(total=total, desc="synthface", unit="img", disable=not progress, dynamic_ncols=True) as bar:
            for name, plan in plans.items():
                labels_only = partial(make_sample, cfg, panel, render=False)
                done = {spec.file for spec, _ in plan} - {file for sub, file in pending if sub == name}
                manifest = _write_subset(writers[name], plan, done, results, labels_only, bar)
                subsets[name] = {
                    "manifest": f"{name}/{MANIFEST}",
                    "count": manifest["count"],
                    "splits": manifest["splits"],
                    "sha256": sha256_file(out / name / MANIFEST),
                }
    finally:
        if pool is not None:
            pool.terminate()
    top = {"format": MANIFEST_FORMAT, "name": GENERATOR, "generator": generator, "subsets": subsets}
    write_json_atomic(out / MANIFEST, top)
    return top
