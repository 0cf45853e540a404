"""``emozoo app --model NAME_OR_DIR``: a local web page to try models on photos and webcam snapshots.

The page (``emozoo.app``) boxes and numbers each face, lists its top emotions and charts its 40 intensities and
distribution. It listens on 127.0.0.1 (``--host``/``--port`` change that) and never opens a public share link.
Needs ``pip install 'emozoo[app]'``.
"""

from __future__ import annotations

import argparse
import sys

from emozoo.commands._args import add_device_arg, add_model_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "app",
        help="try a model on photos and the webcam in a local web page",
        description="A local web page (Gradio) to try a model on photos and webcam snapshots: each face boxed, "
        "numbered and scored. Listens on 127.0.0.1 by default; never shared publicly. Needs emozoo[app].",
    )
    add_model_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=None, help="port (default: the first free one from 7860)")
    p.add_argument("--cache-size", type=int, default=2, help="models kept loaded (default: 2)")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from emozoo.app.ui import launch

    if args.port is not None and not 0 < args.port < 65536:
        raise ValueError(f"--port {args.port} is not a port number (1-65535)")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up checks of the local server
    print(f"emozoo app: loading {args.model} ...", file=sys.stderr)
    launch(args.model, args.host, args.port, device=args.device, cache_size=args.cache_size)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``emozoo app`` alone (as ``python -m emozoo.commands.app``), without the rest of the CLI."""
    from emozoo.errors import EmozooError

    parser = argparse.ArgumentParser(prog="emozoo")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["app", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args)
    except (EmozooError, ValueError) as err:
        print(f"emozoo app: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
