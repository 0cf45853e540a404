"""``emozoo shards``: make WebDataset shard sets.

Sources are sub-subcommands: ``synthface`` (the embedded synthetic benchmark) lives here; ``convert`` (the
EmoNet-Face releases) is registered by ``emozoo.commands.convert``.
"""

from __future__ import annotations

import argparse
import inspect
import json
from dataclasses import asdict
from typing import Any

from emozoo.commands import convert

__all__ = ["register", "run_synthface", "synthface_defaults"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shards",
        help="make WebDataset shards (SynthFace, EmoNet-Face)",
        description="Make WebDataset shard sets with a manifest.json.",
    )
    sources = parser.add_subparsers(dest="source", metavar="SOURCE")
    _register_synthface(sources)
    convert.register(sources)
    parser.set_defaults(func=lambda args: _no_source(parser))


def _no_source(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def synthface_defaults() -> tuple[str, dict[str, Any]]:
    """The output directory and generator parameters that ``python train.py`` (the demo config) uses.

    ``data.root`` and ``data.synthface.*`` come from the resolved default config (the typed dataclasses, then
    ``configs/default.yaml``), exactly as ``emozoo.recipes.ensure_data`` reads them; the generator parameters the
    config does not expose (image format, rater panel) are ``generate_synthface``'s own defaults, which
    ``ensure_data`` leaves in place too. Shards made with these defaults are the set train.py accepts as-is.
    """
    from emozoo.config import SynthFaceConfig, load_config
    from emozoo.synthface.generate import generate_synthface

    data = load_config().data  # only `emozoo shards ...` gets here: a broken default.yaml is its one-line error
    params = {
        name: p.default
        for name, p in inspect.signature(generate_synthface).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    params.update(asdict(data.synthface or SynthFaceConfig()))
    return data.root, params


def _register_synthface(sources: argparse._SubParsersAction) -> None:
    from emozoo.synthface.generate import IMAGE_FORMATS

    root, d = synthface_defaults()
    p = sources.add_parser(
        "synthface",
        help="generate the SynthFace synthetic benchmark",
        description="Generate SynthFace: procedural faces with hidden emotion intensities and simulated "
        "Big-like (weak VLM), Binary-like and HQ-like (expert) labels, as WebDataset shards. The defaults are "
        "those of the demo config (data.root and data.synthface in configs/default.yaml), so the shards are the "
        "set that `python train.py` expects.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", default=root, help="output directory")
    p.add_argument("--num-big", type=int, default=d["num_big"], help="images with Big-like weak VLM labels")
    p.add_argument("--num-binary", type=int, default=d["num_binary"], help="images with Binary-like yes/no labels")
    p.add_argument("--num-hq-val", type=int, default=d["num_hq_val"], help="HQ-like validation images")
    p.add_argument("--num-hq-test", type=int, default=d["num_hq_test"], help="HQ-like test images")
    p.add_argument("--image-size", type=int, default=d["image_size"], help="image side in pixels")
    p.add_argument(
        "--seed", type=int, default=d["seed"], help="random seed; same seed and options give identical shards"
    )
    p.add_argument("--shard-size", type=int, default=d["shard_size"], help="samples per tar shard")
    p.add_argument(
        "--format", dest="image_format", choices=IMAGE_FORMATS, default=d["image_format"], help="image format"
    )
    p.add_argument("--num-raters", type=int, default=d["num_raters"], help="simulated experts in the panel")
    p.add_argument("--raters-per-image", type=int, default=d["raters_per_image"], help="experts rating each HQ image")
    p.add_argument("--workers", type=int, default=None, help="worker processes; None: min(2, CPU count)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run_synthface)


def run_synthface(args: argparse.Namespace) -> int:
    from emozoo.synthface.generate import generate_synthface

    manifest = generate_synthface(
        args.out,
        num_big=args.num_big,
        num_binary=args.num_binary,
        num_hq_val=args.num_hq_val,
        num_hq_test=args.num_hq_test,
        image_size=args.image_size,
        seed=args.seed,
        shard_size=args.shard_size,
        image_format=args.image_format,
        num_raters=args.num_raters,
        raters_per_image=args.raters_per_image,
        progress=not args.no_progress,
        num_workers=args.workers,
    )
    summary = {name: sub["splits"] for name, sub in manifest["subsets"].items()}
    print(f"SynthFace shards in {args.out}: {json.dumps(summary)}")
    return 0
