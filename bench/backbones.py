"""Backbone wrapper overhead on CPU: images/s through ``create_backbone`` vs the bare library model, in bf16.

    python bench/backbones.py [--batch 2] [--iters 5] [--threads 1] [--only NAME ...]

For each backbone the bare model is built with the library's own factory (``timm.create_model``,
``open_clip.create_model`` + ``encode_image``, transformers ``SiglipVisionModel``), given the wrapper's weights,
and timed in alternation with the wrapper under ``torch.autocast("cpu", torch.bfloat16)``. Images/s use the best
of ``--iters`` rounds, since other processes only ever make a round slower; ``ratio`` (wrapper / bare speed) is
the median over rounds of the paired ratio bare time / wrapper time, so that load shared by the two calls of a
round cancels (the wrapper adds one Python call, so ~1.0). It also prints the parameters each holds (the
open_clip wrapper holds the vision tower only, not CLIP's text tower) and the process's peak RSS.

One thread by default: on a shared machine an OpenMP thread that is descheduled stalls every operator, which
made two threads up to 90x slower than one here. Use ``--threads N`` on a quiet machine.
"""

from __future__ import annotations

import argparse
import gc
import logging
import resource
import time

import torch

from emozoo.backbones import BACKBONES, create_backbone

# (registry name, impl)
DEFAULT = [
    ("vit-tiny", "timm"),
    ("vit-b16", "timm"),
    ("clip-vit-b16", "open_clip"),
    ("clip-vit-b16", "timm"),
    ("siglip2-b16-224", "timm"),
    ("siglip2-b16-224", "hf"),
]


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bare_model(name: str, impl: str, wrapper) -> tuple[object, torch.nn.Module, int]:
    """(forward callable, module holding its weights, parameter count of everything the library built)."""
    spec = BACKBONES.get(name)
    if impl == "timm":
        import timm

        args = spec.args_for("timm")
        num_classes = wrapper.model.num_classes if args.pop("keep_head", False) else 0
        model = timm.create_model(spec.model_names["timm"], num_classes=num_classes, **args).eval()
        model.load_state_dict({k.removeprefix("model."): v for k, v in wrapper.state_dict().items()})
        return model, model, _params(model)
    if impl == "open_clip":
        import open_clip

        full = open_clip.create_model(spec.model_names["open_clip"], pretrained=None).eval()
        full.visual.load_state_dict({k.removeprefix("visual."): v for k, v in wrapper.state_dict().items()})
        return full.encode_image, full, _params(full)
    if impl == "hf":
        import transformers

        model = transformers.SiglipVisionModel(wrapper.config).eval()
        model.load_state_dict({k.removeprefix("vision_model."): v for k, v in wrapper.state_dict().items()})
        return (lambda x: model(pixel_values=x).pooler_output), model, _params(model)
    raise ValueError(impl)


def best_time(fn, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    fn(x)
    return time.perf_counter() - t0


def bench_one(name: str, impl: str, batch: int, iters: int) -> dict:
    torch.manual_seed(0)
    wrapper = create_backbone(name, impl=impl).eval()
    bare, bare_module, bare_params = bare_model(name, impl, wrapper)
    x = torch.randn(batch, *wrapper.data_config.input_size)
    times = {"wrapper": [], "bare": []}
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        diff = (wrapper(x).float() - bare(x).float()).abs().max().item()  # also the warm-up
        bare(x)
        for _ in range(iters):  # alternate, so background load hits both alike
            times["wrapper"].append(best_time(wrapper, x))
            times["bare"].append(best_time(bare, x))
    ips = {k: batch / min(v) for k, v in times.items()}
    paired = sorted(b / w for w, b in zip(times["wrapper"], times["bare"]))
    row = {
        "name": name,
        "impl": impl,
        "wrapper_ips": ips["wrapper"],
        "bare_ips": ips["bare"],
        "ratio": paired[len(paired) // 2],
        "max_abs_diff": diff,
        "wrapper_params": _params(wrapper),
        "bare_params": bare_params,
        "peak_rss_mib": _peak_rss_mib(),
    }
    del wrapper, bare, bare_module
    gc.collect()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="registry names to run (default: the standard list)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)  # open_clip logs that the bare model is randomly initialised: it is
    cases = [c for c in DEFAULT if not args.only or c[0] in args.only]
    print(f"CPU bf16 autocast, batch {args.batch}, best of {args.iters}, {torch.get_num_threads()} threads")
    header = f"{'backbone':<16} {'impl':<9} {'wrapper img/s':>13} {'bare img/s':>10} {'ratio':>6} "
    header += f"{'max|diff|':>9} {'wrapper params':>14} {'bare params':>12} {'peak RSS':>9}"
    print(header)
    for name, impl in cases:
        r = bench_one(name, impl, args.batch, args.iters)
        print(
            f"{r['name']:<16} {r['impl']:<9} {r['wrapper_ips']:>13.2f} {r['bare_ips']:>10.2f} {r['ratio']:>6.3f} "
            f"{r['max_abs_diff']:>9.2g} {r['wrapper_params'] / 1e6:>13.1f}M {r['bare_params'] / 1e6:>11.1f}M "
            f"{r['peak_rss_mib']:>7.0f}Mi",
            flush=True,
        )
    print(
        "bare params: everything the library's factory built; for open_clip that includes CLIP's text tower, "
        "which the wrapper never builds."
    )


if __name__ == "__main__":
    main()
