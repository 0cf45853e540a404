"""``evaluate``: the paper's agreement protocol for a model on a rated shard split (``emozoo eval``'s work).

The model scores every image of ``DATA/<split>-*.tar`` that has per-rater ratings; ``agreement_report`` compares
its intensities with the raters (Spearman ρ vs the median rating, weighted κ, Mann–Whitney, Krippendorff's α,
random baseline). On embedding shards (``emozoo embed``) the model's head scores the cached embeddings, so an
Empathic-Insight release runs without its 400M-parameter image encoder. Batches go through
``emozoo.scoring.score_batches``, the loop ``predict`` uses, on the model's device.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from emozoo.backbones.transforms import ImageTransform
from emozoo.devices import module_device, pin_memory, resolve_device
from emozoo.errors import ConfigError, DataError
from emozoo.inference.crops import LargestFaceOrWhole
from emozoo.inference.loading import load_for_inference, model_label, on_device
from emozoo.scoring import score_batches

__all__ = ["evaluate"]


def _stderr(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def evaluate(
    model,
    data: str | Path,
    split: str = "test",
    *,
    out: str | Path | None = None,
    batch_size: int = 64,
    workers: int = 0,
    precision: str = "32",
    device: str | torch.device | None = None,
    faces: str = "none",
    n_bootstrap: int = 1000,
    seed: int = 0,
    encoder: str | bool | None = None,
    neutral_means: str | None = None,
    progress: bool = False,
    log: Callable[[str], None] = _stderr,
) -> dict[str, Any]:
    """Score a rated split and return the agreement report (with ``files`` when ``out`` is given).

    Args:
        model: an ``EmotionModel``, or a zoo name, model folder or ``hf-hub:org/name`` to load.
        data: a shard folder holding ``<split>-*.tar`` and a ``manifest.json`` that lists the raters.
        split: the split to score.
        out: folder for ``report.json``, ``report.md`` and the figures; None writes nothing.
        batch_size: images per forward pass.
        workers: decoding processes (at most one per shard).
        precision: ``32`` (exact) or ``bf16`` (autocast on the model's device).
        device: where to run (``auto``, ``cpu``, ``cuda:N``, ``mps``); a given model is moved there. None: a given
            model stays where it is, a loaded one goes to ``auto``.
        faces: ``none`` scores each whole image (benchmark images are close-ups); ``largest`` scores the largest
            detected face, aligned (the whole image where none is found: every rated image needs a score).
        n_bootstrap: bootstrap resamples for the confidence intervals.
        seed: seeds the bootstrap and the random baseline.
        encoder: Empathic-Insight: the SigLIP2 weights (``hf-hub:...``, ``local-dir:DIR``).
        neutral_means: Empathic-Insight: neutral means JSON (or outputs ``.jsonl``).
        progress: show a progress bar.
        log: told of each skipped sample (the first 20).

    Raises:
        DataError: no shards, no raters in the manifest, or no readable rated sample.
    """
    from tqdm import tqdm

    from emozoo.data.pipeline import eval_pipeline, make_loader
    from emozoo.data.shardset import find_shards
    from emozoo.metrics import agreement_report
    from emozoo.metrics.report import write_report

    device = resolve_device(device) if device is not None else None  # a bad device fails first
    if faces not in ("none", "largest"):
        raise ConfigError(f"eval scores one crop per rated image: faces must be 'none' or 'largest', not {faces!r}")
    data = Path(data).expanduser().resolve()
    shards = find_shards(data.parent, str(data), split)
    if not shards.raters:
        raise DataError(f"{data}/manifest.json lists no 'raters'; eval needs per-rater ratings (HQ-style shards)")
    cached = bool(shards.manifest.get("embedding"))  # shards of `emozoo embed`: the heads alone suffice
    label = model_label(model)
    given = str(model) if isinstance(model, (str, Path)) else label
    if isinstance(model, (str, Path)):
        device = "auto" if device is None else device
        model = load_for_inference(model, encoder, neutral_means, device, images=not cached)
    else:
        model = on_device(model, device)
    dev = module_device(model)
    index = {r: i for i, r in enumerate(shards.raters)}
    if cached:
        from emozoo.data.embeddings import check_compatible

        check_compatible(shards.manifest, model, data)
        pipe = eval_pipeline(shards.urls, None, batch_size, ("ratings",), index, embeddings=True)
    else:  # on an accelerator, uint8 images cross to the device and are normalised there
        transform = model.transform()
        if faces == "largest":
            from torchvision.transforms import v2 as T

            transform = ImageTransform(T.Compose([LargestFaceOrWhole(), *transform.sample.transforms]), transform.batch)
        pipe = eval_pipeline(shards.urls, transform, batch_size, ("ratings",), index, normalize=dev.type == "cpu")
    loader = make_loader(pipe, min(workers, len(shards.urls)), pin_memory=pin_memory(dev))
    preds, ratings, bad = [], [], []
    bar = tqdm(total=shards.num_samples, unit="img", disable=not progress, file=sys.stderr, desc="eval")
    for batch, outputs in score_batches(model, loader, precision):
        bad.extend(batch.get("bad", []))
        if outputs is None:
            continue
        preds.append(outputs["intensity"])
        ratings.append(batch["ratings"].float())
        bar.update(batch["num_samples"])
    bar.close()
    for msg in bad[:20]:
        log(f"skipped {msg}")
    if not preds:
        raise DataError(f"no readable samples in {data}/{split}-*.tar")
    p, r = torch.cat(preds), torch.cat(ratings)
    rated = ~torch.isnan(r).all(dim=(1, 2))  # images nobody rated cannot be scored
    if not rated.any():
        raise DataError(f"no image in {data}/{split}-*.tar has per-rater ratings; use an HQ-style split")
    report = agreement_report(
        p[rated], r[rated], rater_names=shards.raters, n_bootstrap=n_bootstrap, seed=seed, model_name=label
    )
    report["meta"].update(
        model=given,
        data=str(data),
        split=split,
        skipped_samples=len(bad),
        unrated_images=int((~rated).sum()),
        precision=precision,
    )
    if out is not None:
        report["files"] = write_report(report, Path(out))
    return report
