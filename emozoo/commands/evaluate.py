"""``emozoo eval --model NAME_OR_DIR --data DIR --split test``: the paper's agreement protocol on a shard set.

The model scores every image of ``DIR/<split>-*.tar`` that has per-rater ratings; ``agreement_report`` compares
its intensities with the raters (Spearman ρ vs the median rating, weighted κ, Mann–Whitney, Krippendorff's α,
random baseline). The summary is printed; ``report.json``, ``report.md`` and the PNG figures go to ``--out``.
On embedding shards (``emozoo embed``) the model's head scores the cached embeddings, so an Empathic-Insight
release runs without its 400M-parameter image encoder. The work is ``emozoo.evaluate``; this parses and prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emozoo.commands._args import PRECISIONS, add_device_arg, default_workers
from emozoo.commands.basic import add_basic_args, run_basic
from emozoo.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="agreement of a model with human raters on a shard set",
        description="Score a model against the per-rater ratings of a shard split with the EmoNet-Face agreement "
        "protocol (Spearman rho, weighted kappa, Mann-Whitney, Krippendorff's alpha, random baseline).",
    )
    p.add_argument("--model", default=None, help="zoo name (emozoo zoo list), model folder or hf-hub:org/name")
    p.add_argument("--data", default=None, help="shard folder holding <split>-*.tar and manifest.json (with raters)")
    p.add_argument("--split", default="test", help="split to score (default: test)")
    p.add_argument("--out", default=None, help="report folder (default: runs/eval/<model>-<split>)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default: 64)")
    p.add_argument("--workers", type=int, default=default_workers(), help="loader workers")
    p.add_argument("--precision", choices=PRECISIONS, default="32", help="32 (exact) or bf16 autocast")
    add_device_arg(p)
    p.add_argument(
        "--faces",
        choices=("none", "largest"),
        default="none",
        help="none (default): score each whole image (benchmark close-ups); largest: the largest face, aligned",
    )
    p.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="seeds the bootstrap and the random baseline")
    p.add_argument("--encoder", default=None, help="Empathic-Insight: SigLIP2 weights (hf-hub:..., local-dir:DIR)")
    p.add_argument("--neutral-means", default=None, help="Empathic-Insight: neutral means JSON (or outputs .jsonl)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_basic_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.basic is not None:
        return run_basic(args)
    if args.model is None or args.data is None:
        raise ConfigError("emozoo eval needs --model and --data (or --basic SET with --predictions FILE.jsonl)")
    from emozoo.inference import evaluate
    from emozoo.inference.loading import model_label
    from emozoo.metrics.report import render_markdown

    out = Path(args.out) if args.out else Path("runs") / "eval" / f"{model_label(args.model)}-{args.split}"
    report = evaluate(
        args.model,
        args.data,
        args.split,
        out=out,
        batch_size=args.batch_size,
        workers=args.workers,
        precision=args.precision,
        device=args.device,
        faces=args.faces,
        n_bootstrap=args.n_bootstrap,
        seed=args.seed,
        encoder=args.encoder,
        neutral_means=args.neutral_means,
        progress=not args.no_progress,
        log=lambda message: print(f"emozoo eval: {message}", file=sys.stderr),
    )
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
