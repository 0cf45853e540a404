"""``emozoo eval --model NAME_OR_DIR --data DIR --split test``: the paper's agreement protocol on a shard set.

The model scores every image of ``DIR/<split>-*.tar`` that has per-rater ratings; ``agreement_report`` compares
its intensities with the raters (Spearman ρ vs the median rating, weighted κ, Mann–Whitney, Krippendorff's α,
random baseline). The summary is printed; ``report.json``, ``report.md`` and the PNG figures go to ``--out``.
On embedding shards (``emozoo embed``) the model's head scores the cached embeddings, so an Empathic-Insight
release runs without its 400M-parameter image encoder.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from emozoo.commands._args import PRECISIONS, add_model_arg, default_workers


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="agreement of a model with human raters on a shard set",
        description="Score a model against the per-rater ratings of a shard split with the EmoNet-Face agreement "
        "protocol (Spearman rho, weighted kappa, Mann-Whitney, Krippendorff's alpha, random baseline).",
    )
    add_model_arg(p)
    p.add_argument("--data", required=True, help="shard folder holding <split>-*.tar and manifest.json (with raters)")
    p.add_argument("--split", default="test", help="split to score (default: test)")
    p.add_argument("--out", default=None, help="report folder (default: runs/eval/<model>-<split>)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default: 64)")
    p.add_argument("--workers", type=int, default=default_workers(), help="loader workers")
    p.add_argument("--precision", choices=PRECISIONS, default="32", help="32 (exact) or bf16 autocast")
    p.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="seeds the bootstrap and the random baseline")
    p.add_argument("--encoder", default=None, help="Empathic-Insight: SigLIP2 weights (hf-hub:..., local-dir:DIR)")
    p.add_argument("--neutral-means", default=None, help="Empathic-Insight: neutral means JSON (or outputs .jsonl)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _model_label(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.removeprefix("hf-hub:")).name or model)


def _load(args: argparse.Namespace, cached: bool):
    """The model for images, or for cached embeddings (then an Empathic-Insight release loads its heads alone)."""
    from emozoo.inference import load_for_inference
    from emozoo.zoo.pretrained import load_model

    if not cached:
        return load_for_inference(args.model, args.encoder, args.neutral_means)
    encoder = args.encoder if args.encoder is not None else False
    return load_model(args.model, encoder=encoder, neutral_means=args.neutral_means).eval()


def evaluate(args: argparse.Namespace, model=None) -> dict[str, Any]:
    """Score the split and return the agreement report (with ``files`` when written)."""
    import torch
    from tqdm import tqdm

    from emozoo.data.pipeline import eval_pipeline, make_loader
    from emozoo.data.shardset import find_shards
    from emozoo.errors import DataError
    from emozoo.inference import autocast
    from emozoo.metrics import agreement_report
    from emozoo.metrics.report import write_report

    data = Path(args.data).expanduser().resolve()
    shards = find_shards(data.parent, str(data), args.split)
    if not shards.raters:
        raise DataError(f"{data}/manifest.json lists no 'raters'; eval needs per-rater ratings (HQ-style shards)")
    cached = bool(shards.manifest.get("embedding"))  # shards of `emozoo embed`: the heads alone suffice
    model = model or _load(args, cached)
    index = {r: i for i, r in enumerate(shards.raters)}
    if cached:
        from emozoo.data.embeddings import check_compatible

        check_compatible(shards.manifest, model, data)
        pipe = eval_pipeline(shards.urls, None, args.batch_size, ("ratings",), index, embeddings=True)
    else:
        pipe = eval_pipeline(shards.urls, model.transform(), args.batch_size, ("ratings",), index)
    loader = make_loader(pipe, min(args.workers, len(shards.urls)))
    preds, ratings, bad = [], [], []
    bar = tqdm(total=shards.num_samples, unit="img", disable=args.no_progress, file=sys.stderr, desc="eval")
    for batch in loader:
        bad.extend(batch.get("bad", []))
        if not batch.get("num_samples"):
            continue
        with torch.inference_mode(), autocast(args.precision):
            out = model.forward_embeddings(batch["embedding"]) if cached else model(batch["image"])
        preds.append(out["intensity"].float().cpu())
        ratings.append(batch["ratings"].float())
        bar.update(batch["num_samples"])
    bar.close()
    for msg in bad[:20]:
        print(f"emozoo eval: skipped {msg}", file=sys.stderr)
    if not preds:
        raise DataError(f"no readable samples in {data}/{args.split}-*.tar")
    p, r = torch.cat(preds), torch.cat(ratings)
    rated = ~torch.isnan(r).all(dim=(1, 2))  # images nobody rated cannot be scored
    if not rated.any():
        raise DataError(f"no image in {data}/{args.split}-*.tar has per-rater ratings; use an HQ-style split")
    label = _model_label(args.model)
    out_dir = Path(args.out) if args.out else Path("runs") / "eval" / f"{label}-{args.split}"
    report = agreement_report(
        p[rated], r[rated], rater_names=shards.raters, n_bootstrap=args.n_bootstrap, seed=args.seed, model_name=label
    )
    report["meta"].update(
        model=str(args.model),
        data=str(data),
        split=args.split,
        skipped_samples=len(bad),
        unrated_images=int((~rated).sum()),
        precision=args.precision,
    )
    report["files"] = write_report(report, out_dir)
    return report


def run(args: argparse.Namespace) -> int:
    from emozoo.metrics.report import render_markdown

    report = evaluate(args)
    md = render_markdown(report)
    summary = md[md.index("## Summary") :] if "## Summary" in md else md
    meta = report["meta"]
    print(
        f"{args.model} on {args.data} ({args.split}): {meta['n_images']} rated images, {meta['n_raters']} raters"
        + (f", {meta['skipped_samples']} bad samples skipped" if meta["skipped_samples"] else "")
    )
    print(summary.rstrip())
    print(f"wrote {', '.join(report['files'].values())}")
    return 0
