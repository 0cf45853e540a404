"""``emozoo zoo {backbones,list,export}``: what the zoo holds.

``backbones`` prints the backbone registry, ``list`` the checkpoint zoo (``emozoo.zoo.list_checkpoints``) and
``export`` turns a training checkpoint into a model folder (``emozoo.zoo.export.export_checkpoint``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from emozoo.commands.export_onnx import add_onnx_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="list backbones and published checkpoints", description=__doc__.splitlines()[0])
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    zsub = p.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND")

    b = zsub.add_parser("backbones", help="the backbone registry: implementations, size, input, weights")
    b.add_argument("pattern", nargs="?", default="*", help="glob over names, e.g. 'siglip2-*'")
    b.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    b.set_defaults(func=run_backbones)

    lst = zsub.add_parser("list", help="published emotion checkpoints (the zoo manifest) and whether they are here")
    lst.add_argument("pattern", nargs="?", default="*", help="glob over names, e.g. 'empathic-*'")
    lst.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    lst.set_defaults(func=run_list)

    exp = zsub.add_parser("export", help="export a training checkpoint as a save_pretrained directory")
    exp.add_argument("checkpoint", help="a Lightning .ckpt or a run directory")
    exp.add_argument("out", help="output directory")
    exp.add_argument("--config", default=None, help="the run's experiment YAML, when the checkpoint does not say")
    exp.set_defaults(func=run_export)
    add_onnx_args(exp)  # --format onnx (emozoo.commands.export_onnx)


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n / 1e3:.1f}K"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def run_backbones(args: argparse.Namespace) -> int:
    from emozoo.backbones import list_backbones
    from emozoo.backbones.info import describe_backbone

    names = list_backbones(args.pattern)
    if not names:
        print(f"no backbone matches {args.pattern!r}; try `emozoo zoo backbones`", file=sys.stderr)
        return 2
    infos = [describe_backbone(n) for n in names]
    if args.json:
        for info in infos:
            print(json.dumps(asdict(info)))
        return 0
    rows = [
        [
            i.name,
            ", ".join(f"{m}*" if m == i.impl else m for m in i.impls),
            _fmt_params(i.params),
            str(i.num_features),
            "x".join(map(str, i.input_size[1:])),
            i.preprocess,
            i.weights,
        ]
        for i in infos
    ]
    print(_table(rows, ["name", "impl (*default)", "params", "dim", "input", "resize", "weights (pretrained=true)"]))
    print("\nUse as backbone=<name> (impl=<impl> to switch); params are the vision tower's.")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from emozoo.zoo.manifest import list_checkpoints

    items = list_checkpoints(args.pattern)
    if not items:
        print(f"no zoo checkpoint matches {args.pattern!r}; try `emozoo zoo list`", file=sys.stderr)
        return 2
    if args.json:
        for item in items:
            print(json.dumps(item, default=str))
        return 0
    yes = {True: "yes", False: "no", None: "-"}
    rows = [
        [
            i["name"],
            i["format"],
            i.get("backbone") or "-",
            i.get("head") or "-",
            i["source"],
            "yes" if i["released"] else "no",
            yes[i["present"]],
            yes[i.get("encoder_present")],
        ]
        for i in items
    ]
    print(_table(rows, ["name", "format", "backbone", "head", "source", "released", "here", "encoder here"]))
    print("\nUse as emozoo.load_model(<name>) or --model <name>; 'here' checks local folders and the HF cache.")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from emozoo.zoo.export import export_checkpoint

    result = export_checkpoint(args.checkpoint, args.out, config=args.config)
    if result is not None:
        print(result)
    return 0
