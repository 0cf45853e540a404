"""``emozoo embed``: run a frozen backbone once over a shard set and write embedding shards (the fast path).

    emozoo embed --backbone siglip2-so400m-16-384 --pretrained true --data shards/emonet/big --out shards/emb/so400m/big
    emozoo embed --backbone cnn-tiny --data shards/synthface/hq --split val test --out shards/emb/cnn-tiny/hq

Then train the head on the cache with ``data.embeddings=shards/emb/<backbone>`` (same subset names as under
``data.root``) and the same ``backbone.*`` settings: a backbone that did not make the embeddings is refused.
"""

from __future__ import annotations

import argparse
import json

from emozoo.commands._args import add_device_arg

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed",
        help="cache backbone embeddings of a shard set for head-only training",
        description="Run a frozen backbone once over the shards of --data and write embedding shards (float16 "
        "npy + the labels) with a manifest recording the backbone, its weights and its preprocessing. Resumable: "
        "shards already written are skipped. Undecodable images and invalid labels are skipped and counted.",
    )
    p.add_argument("--backbone", required=True, help="backbone registry name (`emozoo zoo backbones`)")
    p.add_argument("--pretrained", default=None, help="weights: true, a file, local-dir:DIR or hf-hub:org/name")
    p.add_argument("--impl", default=None, help="implementation where the entry has several (timm, open_clip, hf)")
    p.add_argument("--img-size", type=int, default=None, help="run at another resolution than the native one")
    p.add_argument("--seed", type=int, default=0, help="seed for a random init (default 0, as experiments)")
    p.add_argument("--data", required=True, help="a shard-set directory (<split>-NNNNNN.tar + manifest.json)")
    p.add_argument("--split", nargs="+", default=None, help="splits to embed (default: all in --data)")
    p.add_argument("--out", default=None, help="output directory (default: shards/emb/<backbone>/<data dir name>)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    add_device_arg(p)
    p.add_argument("--workers", type=int, default=2, help="processes decoding images, whole shards each (default 2)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from emozoo.backbones import create_backbone
    from emozoo.data.embeddings import embed_shards
    from emozoo.devices import resolve_device

    device = resolve_device(args.device)  # a bad --device fails before the backbone is built
    out = args.out or str(Path("shards/emb") / args.backbone / Path(args.data).name)
    torch.manual_seed(args.seed)  # a random init made here equals the one `run_experiment` makes with that seed
    kwargs = {"img_size": args.img_size} if args.img_size else {}
    backbone = create_backbone(args.backbone, pretrained=args.pretrained, impl=args.impl, **kwargs)
    manifest = embed_shards(
        args.data,
        backbone,
        out,
        splits=args.split,
        batch_size=args.batch_size,
        device=device,
        num_workers=args.workers,
        progress=not args.no_progress,
    )
    emb = manifest["embedding"]
    splits = ", ".join(f"{name} {info['count']:,}" for name, info in manifest["splits"].items())
    print(
        f"embedded {splits} with {emb['backbone']} ({emb['impl']}, {emb['weights']}) -> {out}: "
        f"{emb['dim']}-d float16, preprocess_hash {emb['preprocess_hash']}"
    )
    if manifest["skipped"]["count"]:
        print(f"  skipped {manifest['skipped']['count']:,} bad samples: {json.dumps(manifest['skipped']['per_shard'])}")
    return 0
