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
    """Score ``args.predictions`` with the ``args.basic`` mapping, print the table and write the report."""
    from emozoo.emonet.basic import basic_accuracy, load_mapping
    from emozoo.emonet.basic_io import read_predictions, render_basic_markdown, shard_labels, write_basic_report
    from emozoo.errors import DataError

    if args.predictions is None:
        raise DataError(
            "--basic needs --predictions FILE.jsonl: run `emozoo predict IMAGES_OR_SHARDS --model M --out FILE.jsonl` "
            "first, or pass the authors' results JSONL"
        )
    mapping = load_mapping(args.basic)
    labels = shard_labels(args.basic_labels, args.basic_label_field) if args.basic_labels else None
    keys, scores, truth = read_predictions(args.predictions, mapping, labels)
    result = {"predictions": str(args.predictions), **basic_accuracy(scores, truth, mapping, keys)}
    print(render_basic_markdown(result), end="")
    out = getattr(args, "out", None) or f"runs/basic/{mapping.name}"
    for path in write_basic_report(result, Path(out)).values():
        print(f"wrote {path}")
    return 0
