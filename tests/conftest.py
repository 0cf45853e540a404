"""Shared fixtures: the real EmoNet-Face files, tiny shard sets built by the tests themselves, an offline HF cache."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# The real EmoNet-Face files the tests use, carried by the repo (provenance and licence: its README.md).
EMONET = REPO / "tests" / "fixtures" / "emonet"

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach a model hub

HUB_REV = "0123456789abcdef0123456789abcdef01234567"
# A tiny SigLIP vision config (transformers layout); the same numbers double as emozoo ``impl="hf"`` backbone kwargs.
HF_TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 8,
}


# Where Lightning keeps the process's global rank: ``rank_zero_only.rank``, one attribute per module (the same
# object in current releases, distinct ones in older). Read from sys.modules only, so no test pays for the import.
_RANK_ZERO_MODULES = (
    "lightning_utilities.core.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.pytorch.utilities.rank_zero",
)


def _rank_zero_only_fns() -> list:
    fns = (getattr(sys.modules[m], "rank_zero_only", None) for m in _RANK_ZERO_MODULES if m in sys.modules)
    return list({id(f): f for f in fns if f is not None}.values())


@pytest.fixture(autouse=True)
def _restore_lightning_rank():
    """Put Lightning's global rank back after every test.

    A ``Trainer`` built for a multi-process strategy sets the process-global ``rank_zero_only.rank`` from its
    cluster environment (tests/slurm builds one under a fake SLURM_PROCID=3) and nothing sets it back:
    single-device trainers never touch it. Every later test in the same process would then run as rank 3, so all
    ``@rank_zero_only`` work, TensorBoard's event files among it, silently becomes a no-op. The pytest process
    itself is always rank 0 (distributed tests spawn their own processes).
    """
    before = {id(f): f.rank for f in _rank_zero_only_fns() if hasattr(f, "rank")}
    yield
    for f in _rank_zero_only_fns():
        f.rank = before.get(id(f), 0)


@pytest.fixture(scope="session")
def emonet_dir() -> Path:
    if not (EMONET / "guide.json").is_file():
        pytest.fail(f"the real EmoNet-Face files are missing from {EMONET}")
    return EMONET


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty HF hub cache in tmp_path, offline, downloads blocked; ``put(repo, {name: src})`` adds a snapshot.

    ``put`` returns the snapshot folder; ``put.cache`` is the cache root.
    """
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_download(*args, **kwargs):
        raise AssertionError("a test tried to download from the hub")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)

    def put(repo: str, files: dict[str, Path], revision: str = HUB_REV) -> Path:
        root = cache / ("models--" + repo.replace("/", "--"))
        snap = root / "snapshots" / revision
        snap.mkdir(parents=True, exist_ok=True)
        for name, src in files.items():
            shutil.copy(src, snap / name)
        (root / "refs").mkdir(exist_ok=True)
        (root / "refs" / "main").write_text(revision)
        return snap

    put.cache = cache
    return put


def tiny_run_overrides(root: Path, tmp_path: Path, precision: str = "bf16-mixed") -> list[str]:
    """Config overrides that run any experiment on a tiny shard root in-process, writing under ``tmp_path``."""
    return [
        f"data.root={root}",
        "data.synthface=null",
        "data.num_workers=0",
        "data.batch_size=8",
        "data.eval_batch_size=8",
        "data.shuffle_buffer=8",
        f"run_dir={tmp_path / 'runs'}",
        f"checkpoint_dir={tmp_path / 'ckpt'}",
        "trainer.enable_progress_bar=false",
        f"trainer.precision={precision}",
        "eval.n_bootstrap=20",
    ]


def fake_labels(rng: np.random.Generator, raters: list[str], kind: str) -> dict:
    """Schema-valid labels for one image: ``kind`` is ratings | weak | binary."""
    from emozoo.taxonomy import NAMES

    meta = {"source": "synthface", "demographics": {"age": 30, "gender": "f", "ethnicity": "x"}, "prompt": "a face"}
    meta.update(ratings={}, binary={}, weak=None, extra=None)
    if kind == "ratings":
        for r in rng.choice(raters, size=min(3, len(raters)), replace=False):
            meta["ratings"][str(r)] = np.round(rng.uniform(0, 7, 40), 1).tolist()
    elif kind == "weak":
        weak = np.zeros(40, dtype=int)
        weak[rng.choice(40, 3, replace=False)] = rng.integers(1, 8, 3)
        meta["weak"] = weak.tolist()
    else:
        for e in rng.choice(40, 2, replace=False):
            meta["binary"][NAMES[e]] = {str(r): bool(rng.random() < 0.5) for r in raters[: rng.integers(1, 4)]}
    return meta


def write_tar(path: Path, samples: list[dict]) -> None:
    with tarfile.open(path, "w") as tar:
        for s in samples:
            for ext, data in s.items():
                if ext == "__key__":
                    continue
                info = tarfile.TarInfo(f"{s['__key__']}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def _png(rng: np.random.Generator, size: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def make_shard_set(
    directory: Path, split: str, num: int, per_shard: int, kind: str = "ratings", seed: int = 0, prefix: str = "img"
) -> list[str]:
    """Write ``num`` samples in shards of ``per_shard`` plus a manifest; returns the keys."""
    rng = np.random.default_rng(seed)
    raters = [f"rater-{i}" for i in range(1, 6)]
    directory.mkdir(parents=True, exist_ok=True)
    keys, shards = [], []
    for start in range(0, num, per_shard):
        samples = []
        for i in range(start, min(num, start + per_shard)):
            key = f"{prefix}-{split}-{i:05d}"
            keys.append(key)
            meta = fake_labels(rng, raters, kind)
            samples.append({"__key__": key, "png": _png(rng), "json": json.dumps(meta).encode()})
        name = f"{split}-{start // per_shard:06d}.tar"
        write_tar(directory / name, samples)
        shards.append({"file": name, "split": split, "count": len(samples)})
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"shards": [], "splits": {}}
    manifest["shards"] += shards
    manifest["splits"][split] = {"count": num}
    manifest["raters"] = raters
    manifest_path.write_text(json.dumps(manifest))
    return keys


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A data root shaped like SynthFace: big/train (weak), binary/train, hq/val + hq/test (ratings)."""
    make_shard_set(tmp_path / "big", "train", 48, 16, "weak", seed=1)
    make_shard_set(tmp_path / "binary", "train", 32, 16, "binary", seed=2)
    make_shard_set(tmp_path / "hq", "val", 16, 8, "ratings", seed=3)
    make_shard_set(tmp_path / "hq", "test", 24, 8, "ratings", seed=4)
    return tmp_path
