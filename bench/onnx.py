"""onnxruntime vs torch eager on the CPU, fp32, and int8 (dynamic quantization) vs fp32: speed and accuracy cost.

    python bench/onnx.py [--models cnn-tiny vit-b16] [--threads 1] [--opset 23] [--exporters]

Per model (random weights: only speed and fp32/int8 agreement are measured), side by side in one process with
the same number of threads on both sides:

- the export itself (``export_onnx``: dynamo exporter + metadata + a check against torch), and the int8 variant;
- batch 1 and batch 32 of SynthFace faces (``emozoo.synthface``: real-looking inputs) through torch eager
  (``inference_mode``, fp32), the fp32 ONNX file and the int8 file in onnxruntime's CPU provider, interleaved in
  rounds so that load from other processes hits all three alike; ``ort/torch`` is the median over rounds of the
  paired speed-up (goal >= 1.0), ``int8/fp32`` likewise;
- ``|d| fp32``: max |intensity - torch's| of the fp32 file; ``|d| int8``: mean |intensity - fp32 file's| of the
  int8 file on the 0-7 scale (its accuracy cost).

``--exporters`` adds the measurement behind the exporter choice: export time, max |diff| and onnxruntime speed
(batch 1) of the TorchScript exporter's file next to the dynamo one's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from _common import cpu_name  # noqa: E402  (bench/ is on sys.path when a script runs)

from emozoo.deploy import export_onnx, load_onnx_model
from emozoo.deploy.onnx_export import DEFAULT_OPSET, quantize_onnx
from emozoo.model import create_model

ROUNDS = {("cnn-tiny", 1): 30, ("cnn-tiny", 32): 8, ("vit-b16", 1): 5, ("vit-b16", 32): 2}


def faces(n: int, transform) -> torch.Tensor:
    """``n`` SynthFace renderings, preprocessed by the model's own transform."""
    import numpy as np
    from PIL import Image

    from emozoo.synthface.actions import actions_from_latent
    from emozoo.synthface.latent import sample_latent
    from emozoo.synthface.people import sample_person, sample_scene
    from emozoo.synthface.render import render_face

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        pixels = render_face(actions_from_latent(sample_latent(rng), rng), sample_person(rng), sample_scene(rng), 160)
        out.append(transform(Image.fromarray(pixels)))
    return torch.stack(out)


def _timed(fn, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    out = fn(x)["intensity"]
    return time.perf_counter() - start, out


def _torch(model):
    def run(x):
        with torch.inference_mode():
            return model(x)

    return run


def compare(name: str, model, files: dict[str, Path], threads: int, batch: int) -> dict[str, float]:
    """ms per image (best round) of torch and each file, the paired median speed-ups, the output differences."""
    runners = {"torch": _torch(model)} | {
        k: load_onnx_model(p, providers=["CPUExecutionProvider"], threads=threads) for k, p in files.items()
    }
    x = faces(batch, model.transform())
    for fn in runners.values():  # warm-up: allocations, kernel selection (a small batch for the big model)
        fn(x[: min(batch, 4)])
    times: dict[str, list[float]] = {k: [] for k in runners}
    outs: dict[str, torch.Tensor] = {}
    for _ in range(ROUNDS.get((name, batch), 3)):
        for k, fn in runners.items():
            seconds, outs[k] = _timed(fn, x)
            times[k].append(seconds)
    res = {f"{k}_ms": 1e3 * min(v) / batch for k, v in times.items()}  # per image, best round
    res["ort/torch"] = statistics.median(t / o for t, o in zip(times["torch"], times["fp32"]))
    res["diff_fp32"] = (outs["fp32"] - outs["torch"]).abs().max().item()
    if "int8" in runners:
        res["int8/fp32"] = statistics.median(f / q for f, q in zip(times["fp32"], times["int8"]))
        res["diff_int8"] = (outs["int8"] - outs["fp32"]).abs().mean().item()
    if "torchscript" in runners:
        res["ts/dynamo"] = statistics.median(d / t for d, t in zip(times["fp32"], times["torchscript"]))
        res["diff_ts"] = (outs["torchscript"] - outs["torch"]).abs().max().item()
    return res


def _export(model, path: Path, **kw) -> tuple[Path, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = export_onnx(model, path, **kw)
    return out, time.perf_counter() - start


def _unshadow_onnx() -> None:
    """This script is ``onnx.py``: drop its folder from ``sys.path`` so that ``import onnx`` finds the package."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    assert "onnx" not in sys.modules or sys.modules["onnx"].__file__ != str(Path(__file__).resolve())


def main() -> None:
    _unshadow_onnx()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["cnn-tiny", "vit-b16"], help="registry names (random weights)")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    p.add_argument("--threads", type=int, default=1, help="compute threads for torch and onnxruntime alike")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset of the export (18: no Attention op)")
    p.add_argument("--exporters", action="store_true", help="also time the TorchScript exporter (the choice)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime

    print(
        f"CPU: {cpu_name()} ({args.threads} thread(s) each side); torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            torch.manual_seed(0)
            model = create_model(name, "mlp", pretrained=None).eval()
            fp32, t_fp32 = _export(model, Path(tmp) / name, opset=args.opset)
            start = time.perf_counter()
            int8 = quantize_onnx(fp32, fp32.with_name("model.int8.onnx"))
            t_int8 = time.perf_counter() - start
            files = {"fp32": fp32, "int8": int8}
            line = f"{name}: export {t_fp32:.1f} s (dynamo, opset {args.opset}, checked), quantization {t_int8:.1f} s"
            if args.exporters:
                files["torchscript"], t_ts = _export(model, Path(tmp) / f"{name}-ts.onnx", dynamo=False)
                line += f", TorchScript {t_ts:.1f} s"
            mb = {k: f"{v.stat().st_size / 1e6:.1f}" for k, v in files.items()}
            print(f"{line}; files {' / '.join(mb.values())} MB ({' / '.join(mb)})", flush=True)
            for batch in args.batches:
                r = compare(name, model, files, args.threads, batch)
                text = (
                    f"  batch {batch:2d}: torch {r['torch_ms']:7.1f} ms/img  ort fp32 {r['fp32_ms']:7.1f}  "
                    f"int8 {r['int8_ms']:7.1f}  | ort/torch {r['ort/torch']:.2f}x  int8/fp32 {r['int8/fp32']:.2f}x  "
                    f"| |d| fp32 {r['diff_fp32']:.1e}  |d| int8 {r['diff_int8']:.3f}"
                )
                if args.exporters:
                    text += f"  | TorchScript file {r['torchscript_ms']:.1f} ms/img ({r['ts/dynamo']:.2f}x dynamo's)"
                print(text, flush=True)


if __name__ == "__main__":
    main()
