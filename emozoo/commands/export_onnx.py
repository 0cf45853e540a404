"""``emozoo zoo export MODEL OUT --format onnx [--quantize dynamic]``: a model as a self-describing ONNX file.

``add_onnx_args`` adds the options to the ``zoo export`` parser and routes ``--format onnx`` here; every other
format keeps the parser's own handler. The work is ``emozoo.deploy.onnx_export.export_model_onnx``.
"""

from __future__ import annotations

import argparse
import sys

FORMATS = ("safetensors", "onnx")
EXPORTERS = {"auto": None, "dynamo": True, "torchscript": False}
DEFAULT_OPSET = 23  # as emozoo.deploy.onnx_export.DEFAULT_OPSET (not imported: it needs torch)


def add_onnx_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--format`` and the ONNX options to ``parser``; call it after the parser's ``set_defaults(func=...)``."""
    g = parser.add_argument_group("ONNX (--format onnx: MODEL is a zoo name, model folder, hf-hub:org/name or .ckpt)")
    g.add_argument("--format", choices=FORMATS, default="safetensors", help="what to write (default: safetensors)")
    g.add_argument("--quantize", choices=("dynamic",), default=None, help="int8 weights (model.int8.onnx)")
    g.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset >= 17 (default 23; 18: older runtimes)")
    g.add_argument("--exporter", choices=tuple(EXPORTERS), default="auto", help="torch exporter (auto: dynamo)")
    g.add_argument("--encoder", default=None, help="Empathic-Insight: SigLIP2 weights (hf-hub:..., local-dir:DIR)")
    g.add_argument("--neutral-means", default=None, help="Empathic-Insight: neutral means JSON (or outputs .jsonl)")
    other = parser.get_default("func")
    parser.set_defaults(func=lambda args: run(args) if args.format == "onnx" else _other(args, other))


def _other(args: argparse.Namespace, handler) -> int:
    if args.quantize or args.encoder or args.neutral_means:
        raise ValueError("--quantize, --encoder and --neutral-means go with --format onnx")
    return handler(args)


def run(args: argparse.Namespace) -> int:
    from emozoo.deploy.onnx_export import export_model_onnx

    print(f"emozoo zoo export: exporting {args.checkpoint} to ONNX (a minute or more for a ViT-B)...", file=sys.stderr)
    path = export_model_onnx(
        args.checkpoint,
        args.out,
        encoder=args.encoder,
        neutral_means=args.neutral_means,
        config=args.config,
        opset=args.opset,
        dynamo=EXPORTERS[args.exporter],
        quantize=args.quantize,
    )
    what = "int8 weights" if args.quantize else "fp32, outputs checked against torch"
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB, {what}); run it: emozoo predict IMAGES --model {path}")
    return 0
