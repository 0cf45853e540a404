"""``emozoo eval --basic ferd|affectnet|MAPPING.json``: accuracy on a basic-emotion label set (FERD, AffectNet, ...).

The argument definitions and the handler for ``emozoo eval`` to include: ``add_basic_args(parser)`` adds the
options, ``run_basic(args)`` runs them. With ``--predictions FILE.jsonl`` the scores are read from the file (the
authors' ``ferd.jsonl`` form, or ``emozoo predict`` output), so no model is needed. The work is in
``emozoo.emonet.basic`` (the rule, the mappings) and ``emozoo.emonet.basic_io`` (reading, the report).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_basic_args", "run_basic"]


def add_basic_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--basic``, ``--predictions``, ``--basic-labels`` and ``--basic-label-field`` to ``parser``."""
    g = parser.add_argument_group("basic-emotion accuracy (the authors' FERD/AffectNet protocol)")
    g.add_argument(
        "--basic",
        metavar="SET",
        default=None,
        help="map the 40 heads onto a basic label set: ferd, affectnet (the authors' mappings) or MAPPING.json",
    )
    g.add_argument(
        "--predictions",
        metavar="FILE.jsonl",
        default=None,
        help="scores already computed: the authors' JSONL (results.*.mean_subtracted) or emozoo predict output",
    )
    g.add_argument(
        "--basic-labels",
        metavar="SHARDS",
        default=None,
        help="read true labels from this shard folder's sample json (default: each record's 'label', else the "
        "file name as in FERD: 0003_Surprised.jpg)",
    )
    g.add_argument("--basic-label-field", default="basic", help="json field of the label in --basic-labels")


def run_basic(args: argparse.Namespace) -> int:
    """Score with the ``args.basic`` mapping (from ``--predictions``, or ``--model`` on ``--data``), print the table."""
    from emozoo.emonet.basic_io import render_basic_markdown
    from emozoo.inference.basic import evaluate_basic

    out = getattr(args, "out", None) or f"runs/basic/{Path(str(args.basic)).stem}"
    result = evaluate_basic(
        args.basic,
        out=out,
        predictions=args.predictions,
        model=getattr(args, "model", None),
        data=getattr(args, "data", None),
        labels=args.basic_labels,
        label_field=args.basic_label_field,
        faces=getattr(args, "faces", "none"),
        batch_size=getattr(args, "batch_size", 64),
        workers=getattr(args, "workers", 0),
        precision=getattr(args, "precision", "32"),
        device=getattr(args, "device", "auto"),
        encoder=getattr(args, "encoder", None),
        neutral_means=getattr(args, "neutral_means", None),
        progress=not getattr(args, "no_progress", False),
    )
    print(render_basic_markdown(result), end="")
    for path in result["files"].values():
        print(f"wrote {path}")
    return 0
