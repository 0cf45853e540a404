"""The embedding cache: a frozen backbone runs once over a shard set and writes embedding shards.

Each input shard ``<split>-%06d.tar`` gives an output shard of the same name whose samples hold the key, the
embedding as a float16 ``.npy`` (``npy``) and the sample's labels (``json``, copied byte for byte, so targets are
derived exactly as from the images). Samples whose image cannot be decoded or whose labels fail the schema are
skipped and counted. The output is written by ``ShardSetWriter``: an interrupted run skips the shards it already
wrote.

``manifest.json`` has an ``embedding`` section: backbone name, implementation, weights source, preprocessing
(``DataConfig``), their hash (``preprocess_hash``), width, dtype and a fingerprint of the backbone's weights
(compared up to rounding, so a random init must come from the same seed). A
model may train on the cache only when its backbone gives the same signature (``check_compatible``); training
on the cache is then the same as training the head behind that backbone in eval mode (frozen encoder, BatchNorm
statistics and dropout as at inference), which is how the published Empathic-Insight heads were trained.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
import webdataset as wds
from tqdm import tqdm

from emozoo.backbones import Backbone, create_transform
from emozoo.data.pipeline import decode_image, read_labels
from emozoo.data.schema import BadSample
from emozoo.data.shardwriter import ShardSetWriter, ShardSpec, differences, sha256_file
from emozoo.data.tario import tar_samples
from emozoo.errors import DataError

__all__ = [
    "EMBEDDER",
    "backbone_signature",
    "check_compatible",
    "embed_shards",
    "same_weights",
    "weights_fingerprint",
]

EMBEDDER = "emozoo-embed"
VERSION = "1.0.0"  # bump whenever the same backbone and shards would give different embedding shards
_SHARD = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d+)\.tar$")


def _unwrap(backbone: torch.nn.Module) -> torch.nn.Module:
    return getattr(backbone, "_orig_mod", backbone)  # torch.compile wraps the module


def backbone_signature(backbone: Backbone) -> dict[str, Any]:
    """What an embedding depends on besides the image: backbone, implementation, weights source, preprocessing.

    ``preprocess_hash`` is the first 16 hex digits of the sha256 of those four, as canonical JSON.
    """
    bb = _unwrap(backbone)
    ident = {
        "backbone": bb.name,
        "impl": bb.impl,
        "weights": bb.pretrained_source or "random-init",
        "data_config": json.loads(json.dumps(bb.data_config.to_dict())),
    }
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return {**ident, "preprocess_hash": digest, "dim": int(bb.num_features)}


def weights_fingerprint(module: torch.nn.Module) -> dict[str, list[float]]:
    """Per floating-point tensor of the state dict: its L2 norm and its sum under a fixed +-1 pattern (float64).

    Unlike a hash, it is compared with a tolerance (``same_weights``): rounding-level changes pass (weight
    averaging rewrites a frozen encoder as ``0.998 w + 0.002 w``), another random init or fine-tuned weights do
    not (the signed sums of two inits differ by about the tensor's norm).
    """
    out = {}
    for name, tensor in sorted(_unwrap(module).state_dict().items()):
        if not tensor.is_floating_point():
            continue  # counters such as BatchNorm's num_batches_tracked
        x = tensor.detach().cpu().double().flatten()
        seed = int.from_bytes(hashlib.sha1(name.encode()).digest()[:7], "big")
        signs = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(seed)).double() * 2 - 1
        out[name] = [float(x.norm()), float(x @ signs)]
    return out


def same_weights(a: dict[str, list[float]], b: dict[str, list[float]], rtol: float = 1e-4) -> bool:
    """Whether two ``weights_fingerprint``s describe the same weights, up to rounding."""
    if a.keys() != b.keys():
        return False
    for name, (norm_a, proj_a) in a.items():
        norm_b, proj_b = b[name]
        scale = max(norm_a, norm_b)
        if abs(norm_a - norm_b) > rtol * scale or abs(proj_a - proj_b) > rtol * scale:
            return False
    return True


def check_compatible(manifest: dict, model: torch.nn.Module, where: str | Path) -> None:
    """Refuse a model whose backbone did not make the embeddings in ``where`` (or, head-only, of another width).

    Raises:
        DataError: the backbone, implementation, weights source, preprocessing or weights differ; the message
            says which and how to make matching embeddings.
    """
    emb = manifest.get("embedding") or {}
    head_dim = getattr(getattr(model, "head", None), "in_features", None)
    if head_dim is not None and head_dim != emb.get("dim"):
        raise DataError(f"{where} holds {emb.get('dim')}-d embeddings but the model's head takes {head_dim}-d inputs")
    backbone = getattr(model, "backbone", None)
    if backbone is None:
        return  # a head-only model: the width is all there is to check
    ours = backbone_signature(backbone)
    redo = (
        f"Make matching embeddings with `emozoo embed --backbone {ours['backbone']} --impl {ours['impl']}"
        + (f" --pretrained {ours['weights']}" if ours["weights"] != "random-init" else "")
        + f" --data <shards> --out {where}` or configure backbone.name={emb.get('backbone')}."
    )
    if ours["preprocess_hash"] != emb.get("preprocess_hash"):
        keys = ("backbone", "impl", "weights", "data_config")
        diff = "; ".join(differences({k: emb.get(k) for k in keys}, {k: ours[k] for k in keys})[:4])
        raise DataError(
            f"{where}: embeddings were made with preprocessing hash {emb.get('preprocess_hash')}, the model's "
            f"backbone has {ours['preprocess_hash']} (cache -> model: {diff}). {redo}"
        )
    if emb.get("weights_fingerprint") and not same_weights(weights_fingerprint(backbone), emb["weights_fingerprint"]):
        raise DataError(
            f"{where}: the model's {ours['backbone']} has other weights than the one that made the embeddings "
            f"(a random init with another seed, or fine-tuned weights); use the same --pretrained weights, or the "
            f"same --seed as the experiment's seed for a random init. {redo}"
        )


def _source_id(directory: Path, files: list[Path]) -> dict[str, Any]:
    manifest = directory / "manifest.json"
    if manifest.is_file():
        return {"name": directory.name, "manifest_sha256": sha256_file(manifest)}
    return {"name": directory.name, "shards": [[f.name, f.stat().st_size] for f in files]}


def _read_shard(url: str, transform, bad: Counter, messages: list[str]):
    """(key, json bytes, image tensor) for the usable samples of one shard; the rest are counted in ``bad``."""
    log: list[str] = []

    def handler(exn: Exception) -> bool:
        log.append(f"shard {url}: {type(exn).__name__}: {str(exn)[:200]}")
        return True

    for sample in wds.DataPipeline(wds.SimpleShardList([url]), tar_samples(handler=handler)):
        key = sample.get("__key__", "?")
        try:
            read_labels(sample)
            image = transform(decode_image(sample))
        except BadSample as err:
            bad[str(err)[:60]] += 1
            messages.append(f"{url}:{key}: {err}")
            continue
        yield key, sample["json"], image
    messages.extend(log)


def _npy(vector: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, vector, allow_pickle=False)
    return buf.getvalue()


class _ShardBatches(torch.utils.data.IterableDataset):
    """Decoded, transformed image batches of whole shards, one worker per shard, each shard closed by an ``end``.

    ``("batch", url, keys, jsons, images)`` items, then ``("end", url, bad reasons, messages)``. A shard's batches
    are cut from its own samples only, so its embeddings do not depend on the number of workers.
    """

    def __init__(self, urls: list[str], transform, batch_size: int) -> None:
        self.urls, self.transform, self.batch_size = urls, transform, batch_size

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        for url in self.urls[info.id :: info.num_workers] if info else self.urls:
            bad: Counter = Counter()
            messages: list[str] = []
            batch: list[tuple] = []
            for item in _read_shard(url, self.transform, bad, messages):
                batch.append(item)
                if len(batch) == self.batch_size:
                    yield self._batch(url, batch)
                    batch = []
            if batch:
                yield self._batch(url, batch)
            yield ("end", url, dict(bad), messages)

    @staticmethod
    def _batch(url: str, batch: list[tuple]) -> tuple:
        keys, jsons, images = zip(*batch)
        return ("batch", url, list(keys), list(jsons), torch.stack(images))


def embed_shards(
    data: str | Path,
    backbone: Backbone,
    out_dir: str | Path,
    *,
    splits: list[str] | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    num_workers: int = 2,
    progress: bool = True,
) -> dict:
    """Embed the shards of ``data`` (a shard-set directory) with a frozen ``backbone``; returns the manifest.

    Args:
        data: directory of ``<split>-%06d.tar`` shards (with its ``manifest.json``, whose raters are copied).
        backbone: the frozen encoder; it is put in eval mode. Its preprocessing makes the transforms.
        out_dir: where the embedding shards go (one per input shard, same name).
        splits: which splits to embed; None: every split in ``data``.
        batch_size: images per forward pass.
        device: where the backbone runs.
        num_workers: processes that decode and transform images (whole shards each); 0 decodes in this process.
        progress: show a progress bar.

    Raises:
        DataError: no shards, or ``out_dir`` holds embeddings made differently.
    """
    directory = Path(data)
    files = sorted(p for p in directory.glob("*.tar") if _SHARD.match(p.name))
    if splits:
        files = [f for f in files if _SHARD.match(f.name)["split"] in splits]
    if not files:
        raise DataError(f"no <split>-NNNNNN.tar shards{' of ' + ', '.join(splits) if splits else ''} in {directory}")
    manifest_path = directory / "manifest.json"
    source_manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    source_counts = {Path(s["file"]).name: s.get("count") for s in source_manifest.get("shards", [])}
    backbone = backbone.to(device).eval()
    signature = backbone_signature(backbone)
    fingerprint = weights_fingerprint(backbone)
    embedding = {**signature, "dtype": "float16", "format": "npy", "weights_fingerprint": fingerprint}
    generator = {
        "name": EMBEDDER,
        "version": VERSION,
        "params": {"embedding": embedding, "source": _source_id(directory, files)},
    }
    writer = ShardSetWriter(out_dir, generator)
    transform = create_transform(_unwrap(backbone).data_config)
    bad: Counter = Counter()
    messages: list[str] = []
    todo = []
    for f in files:
        match = _SHARD.match(f.name)
        record = writer.records.get(f.name)
        if record and writer.done(ShardSpec(match["split"], int(match["index"]), 0, record["count"])):
            continue
        todo.append((f, match))
    total = sum(source_counts.get(f.name) or 0 for f, _ in todo) or None
    pending = {str(f): match for f, match in todo}
    outputs: dict[str, list[dict]] = {url: [] for url in pending}
    dataset = _ShardBatches(list(pending), transform, batch_size)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=min(num_workers, len(pending)))
    with tqdm(total=total, desc=f"embed {signature['backbone']}", unit="img", disable=not progress) as bar:
        for item in loader:
            if item[0] == "batch":
                _, url, keys, jsons, images = item
                with torch.inference_mode():
                    vectors = backbone(images.to(device)).float().cpu().numpy().astype(np.float16)
                outputs[url] += [{"__key__": k, "npy": _npy(v), "json": j} for k, j, v in zip(keys, jsons, vectors)]
                bar.update(len(keys))
                continue
            _, url, reasons, shard_messages = item
            bad.update(reasons)
            messages += shard_messages
            match, samples = pending[url], outputs.pop(url)
            writer.write(ShardSpec(match["split"], int(match["index"]), 0, len(samples)), samples)
    specs = []
    for f in files:
        match, record = _SHARD.match(f.name), writer.records[f.name]
        specs.append(ShardSpec(match["split"], int(match["index"]), 0, record["count"]))
    skipped = {
        f.name: source_counts[f.name] - writer.records[f.name]["count"]
        for f in files
        if source_counts.get(f.name) is not None and source_counts[f.name] > writer.records[f.name]["count"]
    }
    if messages:  # this run's problems; the manifest keeps the per-shard counts, which survive a resume
        print(f"[emozoo] embed skipped {sum(bad.values())} samples: {'; '.join(messages[:5])}", file=sys.stderr)
    return writer.finish(
        specs,
        name=f"{directory.name} embedded by {signature['backbone']}",
        embedding=embedding,
        source={"directory": str(directory), **generator["params"]["source"]},
        raters=list(source_manifest.get("raters", [])),
        skipped={"count": sum(skipped.values()), "per_shard": skipped},
    )
