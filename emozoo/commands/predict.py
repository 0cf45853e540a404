"""``emozoo predict INPUT... --model NAME_OR_DIR``: per-face emotion predictions as JSONL or CSV (+ PNG plots).

INPUT is any mix of image files, videos (mp4, mov, mkv, webm, avi; sampled at ``--fps``), folders (searched
recursively), globs and WebDataset shards (tars or folders of them). Faces are found and aligned (``--faces``).
Images are decoded in worker processes while the model runs on ``--device``; an unreadable image is reported on
stderr and skipped. Each output record says where the face is and has the 40 intensities, the
distribution and the top-k emotions. The work is ``emozoo.inference.predict_files``; this parses and prints.
"""

from __future__ import annotations

import argparse
import sys

from emozoo.commands._args import FACE_MODES, PRECISIONS, add_device_arg, add_model_arg, default_workers

RANK_BY = ("intensity", "distribution")  # as emozoo.inference.records.RANK_BY


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the 40 emotions for images",
        description="Per-face emotion predictions (40 intensities, distribution, top-k) as JSONL or CSV, with "
        "optional PNG bar charts. Unreadable images are reported and skipped.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, globs or shard tars/folders")
    add_model_arg(p)
    p.add_argument("--out", default=None, help="FILE.jsonl or FILE.csv (default: JSONL on stdout)")
    p.add_argument(
        "--faces",
        choices=FACE_MODES,
        default="all",
        help="all (default): every face, detected and aligned; largest: the biggest face; none: each whole image "
        "(for EmoNet-Face-style close-ups)",
    )
    p.add_argument("--fps", type=float, default=2.0, help="video frames sampled per second (default: 2)")
    p.add_argument("--annotate", metavar="DIR", default=None, help="write each photo with its boxes and top-3 drawn")
    p.add_argument("--batch-size", type=int, default=32, help="crops per forward pass (default: 32)")
    p.add_argument("--top-k", type=int, default=5, help="emotions listed per face (default: 5)")
    p.add_argument("--rank-by", choices=RANK_BY, default="intensity", help="what orders the top-k (default: intensity)")
    p.add_argument(
        "--plot", metavar="DIR", default=None, help="a PNG bar chart per face into DIR (a timeline per video track)"
    )
    p.add_argument("--precision", choices=PRECISIONS, default="32", help="32 (exact) or bf16 autocast (faster)")
    add_device_arg(p)
    p.add_argument("--workers", type=int, default=default_workers(), help="decoding processes (0: in the main one)")
    p.add_argument("--encoder", default=None, help="Empathic-Insight: SigLIP2 weights (hf-hub:..., local-dir:DIR)")
    p.add_argument("--neutral-means", default=None, help="Empathic-Insight: neutral means JSON (or outputs .jsonl)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from emozoo.inference import collect_inputs, face_cropper, load_for_inference, predict_files

    face_cropper(args.faces)  # an unavailable mode or a missing input fails before the model loads
    inputs = collect_inputs(args.inputs)
    model = load_for_inference(args.model, args.encoder, args.neutral_means, args.device)
    result = predict_files(
        model,
        inputs,
        args.out,
        plot=args.plot,
        annotate=args.annotate,
        fps=args.fps,
        progress=not args.no_progress,
        on_skip=lambda s: tqdm.write(f"emozoo predict: skipped {s.image}: {s.reason}", file=sys.stderr),
        faces=args.faces,
        top_k=args.top_k,
        rank_by=args.rank_by,
        batch_size=args.batch_size,
        workers=args.workers,
        precision=args.precision,
    )
    rate = result.images / max(result.seconds, 1e-9)
    faces = ""
    if args.faces != "none":
        faces = f", {result.records - result.no_face} faces, {result.no_face} without a face"
    where = f" -> {result.out}" if result.out else ""
    plots = f"; plots in {args.plot}" if args.plot else ""
    device = next(model.parameters()).device
    print(
        f"emozoo predict: {result.images} images ({len(result.skipped)} skipped){faces} in {result.seconds:.1f} s "
        f"on {device}, {rate:.1f} images/s{where}{plots}",
        file=sys.stderr,
    )
    return 0 if result.images or not result.skipped else 1
