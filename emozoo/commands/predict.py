"""``emozoo predict INPUT... --model NAME_OR_DIR``: per-image emotion predictions as JSONL or CSV (+ PNG plots).

INPUT is any mix of image files, folders (searched recursively), globs and WebDataset shards (tars or folders
of them). Images are decoded in worker processes while the model runs; an unreadable image is reported on stderr
and skipped. Each output record has the 40 intensities, the distribution and the top-k emotions.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from emozoo.commands._args import PRECISIONS, add_model_arg, default_workers

RANK_BY = ("intensity", "distribution")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the 40 emotions for images",
        description="Per-image emotion predictions (40 intensities, distribution, top-k) as JSONL or CSV, with "
        "optional PNG bar charts. Unreadable images are reported and skipped.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, globs or shard tars/folders")
    add_model_arg(p)
    p.add_argument("--out", default=None, help="FILE.jsonl or FILE.csv (default: JSONL on stdout)")
    p.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    p.add_argument("--top-k", type=int, default=5, help="emotions listed per image (default: 5)")
    p.add_argument("--rank-by", choices=RANK_BY, default="intensity", help="what orders the top-k (default: intensity)")
    p.add_argument("--plot", metavar="DIR", default=None, help="write a PNG bar chart per image into DIR")
    p.add_argument("--precision", choices=PRECISIONS, default="32", help="32 (exact) or bf16 autocast (faster)")
    p.add_argument("--workers", type=int, default=default_workers(), help="decoding processes (0: in the main one)")
    p.add_argument("--encoder", default=None, help="Empathic-Insight: SigLIP2 weights (hf-hub:..., local-dir:DIR)")
    p.add_argument("--neutral-means", default=None, help="Empathic-Insight: neutral means JSON (or outputs .jsonl)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def predict(args: argparse.Namespace, model=None) -> dict[str, Any]:
    """Run a prediction; ``model`` (already loaded) skips loading ``args.model``.

    Returns:
        ``images`` written, ``skipped`` [(key, reason)], ``seconds`` in all, ``wait`` (blocked on decoding) and
        ``forward`` (in the model) seconds, ``out``.
    """
    from tqdm import tqdm

    from emozoo.inference import collect_inputs, image_loaders, load_for_inference, predict_batches
    from emozoo.inference_output import PredictionWriter, plot_prediction, prediction_records

    if args.batch_size < 1 or args.top_k < 1 or args.workers < 0:
        raise ValueError("--batch-size and --top-k must be >= 1 and --workers >= 0")
    inputs = collect_inputs(args.inputs)
    model = model or load_for_inference(args.model, args.encoder, args.neutral_means)
    extra_names = tuple(getattr(model.head, "extra_dims", ()))
    top_k = min(args.top_k, model.head.num_emotions)
    loaders = image_loaders(inputs, model.transform(), args.batch_size, args.workers)
    skipped: list[tuple[str, str]] = []
    timing: dict[str, float] = {}
    bar = tqdm(total=inputs.total, unit="img", disable=args.no_progress, file=sys.stderr, desc="predict")
    start = time.perf_counter()
    with PredictionWriter(args.out, top_k) as writer:
        for batch in predict_batches(model, loaders, args.precision, timing):
            for key, err in batch["errors"]:
                skipped.append((key, err))
                tqdm.write(f"emozoo predict: skipped {key}: {err}", file=sys.stderr)
            if batch["keys"]:
                records = prediction_records(batch["keys"], batch["outputs"], top_k, args.rank_by, extra_names)
                writer.write(records)
                if args.plot:
                    for rec in records:
                        plot_prediction(rec, args.plot)
            bar.update(len(batch["keys"]) + len(batch["errors"]))
        count = writer.count
    bar.close()
    seconds = time.perf_counter() - start
    return {"images": count, "skipped": skipped, "seconds": seconds, "out": args.out, **timing}


def run(args: argparse.Namespace) -> int:
    result = predict(args)
    rate = result["images"] / max(result["seconds"], 1e-9)
    where = f" -> {result['out']}" if result["out"] else ""
    print(
        f"emozoo predict: {result['images']} images ({len(result['skipped'])} skipped) in {result['seconds']:.1f} s, "
        f"{rate:.1f} images/s{where}" + (f"; plots in {args.plot}" if args.plot else ""),
        file=sys.stderr,
    )
    return 0 if result["images"] or not result["skipped"] else 1
