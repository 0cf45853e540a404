"""``emozoo shards convert {hq,binary,big} INPUT ...``: EmoNet-Face releases and annotation tables to shards.

Registered under ``emozoo shards`` by ``emozoo.commands.shards`` (this module's ``register`` gets the ``shards``
sub-subparsers). Examples::

    emozoo shards convert binary tests/fixtures/emonet/binary.csv --images data/binary-images --out shards/emonet/binary
    emozoo shards convert hq data/emonet-face-hq/ --out shards/emonet/hq          # HF parquet, images embedded
    emozoo shards convert big data/emonet-face-big/ --map label=annotation --out shards/emonet/big
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sources: argparse._SubParsersAction) -> None:
    from emozoo.emonet.columns import FIELDS
    from emozoo.emonet.convert import DEFAULT_SPLITS

    defaults = "; ".join(f"{k}: " + ",".join(f"{s}={f}" for s, f in v.items()) for k, v in DEFAULT_SPLITS.items())
    p = sources.add_parser(
        "convert",
        help="convert EmoNet-Face (HF parquet releases, annotation CSVs + images) to shards",
        description="Convert an EmoNet-Face source to WebDataset shards with a manifest.json. Reads the Hugging "
        "Face releases laion/emonet-face-{hq,binary,big} from a local directory (parquet; images embedded or as "
        "paths) or the authors' annotation tables (long binary.csv, HQ ratings per image and rater) with "
        "--images. Resumable: run it again to continue an interrupted conversion.",
    )
    p.add_argument(
        "convert_source",
        choices=("hq", "binary", "big"),
        metavar="{hq,binary,big}",
        help="which EmoNet-Face set the inputs hold",
    )
    p.add_argument("inputs", nargs="+", help="table files or directories (.parquet, .csv, .tsv)")
    p.add_argument(
        "--images",
        default=None,
        help="the image root: folder with the images the tables name by path (default: each table's own folder); "
        "files outside it are refused",
    )
    p.add_argument(
        "--allow-outside-root",
        action="store_true",
        help="read the files a table names wherever they are (absolute paths, '..', symlinks leading out). Only for "
        "tables you trust: a table can name any file you can read",
    )
    p.add_argument(
        "--max-pixels",
        type=_pixel_count,
        default=None,
        help="leave out images with more pixels (e.g. 4e7; default $EMOZOO_MAX_PIXELS or 40 MP)",
    )
    p.add_argument("--out", default=None, help="output directory (default: shards/emonet/<source>)")
    p.add_argument(
        "--map",
        dest="map_items",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help=f"pin a column (repeatable); an empty COLUMN switches an optional field off. Fields: {', '.join(FIELDS)}",
    )
    p.add_argument("--columns", default=None, metavar="YAML", help="a YAML file of field: column entries")
    p.add_argument(
        "--splits", default=None, help=f"split fractions, e.g. train=0.9,val=0.05,test=0.05 (defaults: {defaults})"
    )
    p.add_argument("--salt", default="", help="mixed into the split hash (another salt, another split; default none)")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per tar shard (default 1000)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def _pixel_count(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 1 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of pixels (e.g. 40000000 or 4e7)")
    return int(value)


def run(args: argparse.Namespace) -> int:
    from emozoo.emonet.columns import load_column_map
    from emozoo.emonet.convert import convert_emonet

    out = args.out or f"shards/emonet/{args.convert_source}"
    manifest = convert_emonet(
        args.convert_source,
        args.inputs,
        out,
        images=args.images,
        columns=load_column_map(args.map_items, args.columns),
        splits=args.splits,
        salt=args.salt,
        shard_size=args.shard_size,
        allow_outside_root=args.allow_outside_root,
        max_pixels=args.max_pixels,
        progress=not args.no_progress,
    )
    print(summary_lines(manifest, out))
    return 0


def summary_lines(manifest: dict, out: str) -> str:
    """The one-screen summary printed after a conversion."""
    splits = ", ".join(
        f"{name} {info['count']:,} ({info['shards']} shards)" for name, info in manifest["splits"].items()
    )
    stats = manifest["label_stats"]["all"]
    labels = []
    if "ratings" in stats:
        labels.append(f"{stats['ratings']['num_ratings']:,} per-rater ratings")
    if "binary" in stats:
        labels.append(
            f"{stats['binary']['num_answers']:,} yes/no answers on {stats['binary']['num_queries']:,} queries"
        )
    if "weak" in stats:
        labels.append(f"weak labels on {stats['num_samples']:,} images")
    lines = [f"{manifest['source']}: {manifest['count']:,} images -> {out}: {splits}; {', '.join(labels)}"]
    missing, invalid = manifest["missing_images"], manifest["invalid_labels"]
    if missing["count"]:
        lines.append(
            f"  missing images: {missing['count']:,} not found (e.g. {', '.join(map(str, missing['images'][:3]))}); "
            f"their labels were left out; all are listed under 'missing_images' in {out}/manifest.json"
        )
    if invalid["count"]:
        reason = next(iter(invalid["reasons"]), "?")
        lines.append(f"  invalid labels: {invalid['count']:,} images left out (most common: {reason})")
    for what, n in manifest["skipped_rows"].items():
        lines.append(f"  skipped {n:,} {what}")
    refused, undecodable = manifest["refused_images"], manifest["undecodable_images"]
    if refused["count"]:
        lines.append(
            f"  refused images: {refused['count']:,} left out ({_examples(refused['images'])}); --allow-outside-root "
            f"reads files outside the image root, for tables you trust; all are listed under 'refused_images' in "
            f"{out}/manifest.json"
        )
    if undecodable["count"]:
        lines.append(
            f"  undecodable images: {undecodable['count']:,} left out ({_examples(undecodable['images'])}); all are "
            f"listed under 'undecodable_images' in {out}/manifest.json"
        )
    return "\n".join(lines)


def _examples(bad: list[dict[str, str]], n: int = 3) -> str:
    """The first few bad images as ``path: reason``, each made printable so that the summary stays one line each."""
    return "e.g. " + "; ".join(_printable(f"{b['image']}: {b['reason']}") for b in bad[:n])


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
