"""``emozoo agreement FILE``: inter-annotator agreement (Krippendorff's α, pairwise κ) of an annotation table.

Reads the long layout of ``binary.csv`` (``path,annotator,value,emotion``) or a wide one (``path,annotator``
plus one column per emotion) and prints α and the mean pairwise quadratic κ per emotion and overall (κ aggregated
as the authors do: see ``emozoo.metrics.interrater``). ``--out DIR`` writes the report folder (JSON, Markdown, the
α/κ figure and, for yes/no tables, the vote-split figure).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from emozoo.emonet.annotations import FORMATS
from emozoo.metrics.krippendorff import LEVELS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "agreement",
        help="inter-annotator agreement (α, κ) of an annotation table",
        description="Inter-annotator agreement (Krippendorff's α, pairwise quadratic κ) of an annotation table.",
    )
    p.add_argument("file", help="annotation CSV: long (path,annotator,value,emotion) or wide (path,annotator,<40>)")
    p.add_argument("--format", choices=FORMATS, default="auto", help="table layout (default: from the header)")
    p.add_argument("--json", metavar="OUT", help="also write the full result as JSON to OUT")
    p.add_argument("--out", metavar="DIR", help="write the report folder: agreement.json, agreement.md, figures")
    p.add_argument("--level", choices=LEVELS, default="interval", help="Krippendorff level (default: interval)")
    p.add_argument(
        "--num-classes", type=int, default=None, help="κ labels 0..C-1 (default: 2 for yes/no tables, else 8)"
    )
    p.set_defaults(func=run)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def format_table(result: dict[str, Any]) -> str:
    """The per-emotion table and the overall lines, as printed."""
    header = ["emotion", "items", "alpha", "kappa", "pairs"]
    rows = [
        [e, str(v["items"]), _fmt(v["alpha"]), _fmt(v["kappa"]), str(v["pairs"])]
        for e, v in result["per_emotion"].items()
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    ov = result["overall"]
    return "\n".join(
        [
            line(header),
            line(["-" * w for w in widths]),
            *map(line, rows),
            "",
            f"alpha ({result['level']}): mean over emotions {_fmt(ov['alpha_mean'])}, "
            f"pooled {_fmt(ov['alpha_pooled'])}",
            f"kappa (quadratic, {result['kappa']['num_classes']} labels, truncated): mean over "
            f"{ov['kappa_units']} (rater pair, emotion) units {_fmt(ov['kappa_mean'])}; pooled per pair, mean over "
            f"{len(result['pairs'])} rater pairs {_fmt(ov['kappa_pooled_pair_mean'])}",
        ]
    )


def run(args: argparse.Namespace) -> int:
    from emozoo.emonet.annotations import read_annotations
    from emozoo.metrics.interrater import interrater_agreement_sparse

    table = read_annotations(args.file, args.format)
    t = table
    result = interrater_agreement_sparse(
        t.image, t.rater, t.emotion, t.value, t.raters, level=args.level, num_classes=args.num_classes
    )
    result = {"file": str(args.file), **result}
    shown = ", ".join(table.raters[:10]) + (", ..." if len(table.raters) > 10 else "")
    print(
        f"{args.file}: {table.n_ratings} ratings of {len(table.images)} images by {len(table.raters)} raters ({shown})"
    )
    print(format_table(result))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
        print(f"wrote {out}")
    if args.out:
        from emozoo.metrics.report import write_interrater_report

        for path in write_interrater_report(result, Path(args.out)).values():
            print(f"wrote {path}")
    return 0
