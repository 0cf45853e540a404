"""``export_onnx``: an ``EmotionModel`` to a self-describing ``model.onnx`` (and, optionally, an int8 variant).

The file takes normalised images ``images`` (batch, 3, H, W) (or ``embeddings`` (batch, D) for a head without an
image encoder), has a dynamic batch axis, and returns the ``EmotionModel.forward`` dict as named outputs
(``intensity``, ``distribution``, ..., and ``extra`` where the model has extra dimensions). Its preprocessing,
taxonomy and emozoo version travel in its metadata (``emozoo.deploy.metadata``), so the file alone runs it.

Exporter: torch's dynamo exporter (``torch.export``), chosen by measurement (bench/README.md, "ONNX export"):
both exporters succeed on every backbone family once each one's trap is avoided (below) and give the same outputs
(max |diff| about 1e-6) and the same onnxruntime speed, whereas the TorchScript exporter, while several times
faster to export, is deprecated since torch 2.9 ("will be removed"). ``dynamo=False`` still selects it, and
``dynamo=None`` falls back to it when the dynamo exporter fails on a model.

Opset 23 by default: it has ONNX's own ``Attention`` and ``Gelu``, which onnxruntime runs fused; at opset 18 the
exporter decomposes them and ViT-B/16 at batch 32 ran at 0.83x torch's speed instead of 1.0-1.2x. Opsets 17 and
18 remain for older runtimes (parity is tested there too).

- dynamo: an example batch of 1 lets ``torch.export`` specialise the batch size to 1 inside attention pooling
  (SigLIP) and open_clip's attention, so the "dynamic" file then rejects any other batch; we trace with 2.
- TorchScript: under ``no_grad``, ``nn.MultiheadAttention`` (open_clip) takes its fused fast path
  ``aten::_native_multi_head_attention``, which has no ONNX symbolic; we trace with autograd on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from emozoo.deploy.metadata import PREFIX, metadata_props
from emozoo.errors import WeightsError

__all__ = ["DEFAULT_OPSET", "QUANTIZE", "export_model_onnx", "export_onnx", "onnx_file_name", "quantize_onnx"]

DEFAULT_OPSET = 23  # ONNX's own Attention and Gelu ops: ViT-B/16 1.2x torch vs 0.83x at 18 (bench/README.md)
QUANTIZE = ("dynamic",)
_EXAMPLE_BATCH = 2  # not 1: see the module docstring
_EXTERNAL_BYTES = 1_800_000_000  # protobuf's hard limit is 2 GiB; larger weights go to model.onnx.data
QUANT_KEY = PREFIX + "quantization"
_VERIFY_ATOL = 1e-3  # the tests hold every family to 1e-4; this only catches a broken export


class _Outputs(nn.Module):
    """The model with its output dict as a tuple in a fixed order (ONNX outputs are positional)."""

    def __init__(self, model: nn.Module, names: tuple[str, ...], embeddings: bool):
        super().__init__()
        self.model, self.names, self.embeddings = model, names, embeddings

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model.forward_embeddings(x) if self.embeddings else self.model(x)
        return tuple(out[k] for k in self.names)


def onnx_file_name(quantize: str | None = None) -> str:
    """The file name ``export_onnx`` writes inside an output folder."""
    return "model.int8.onnx" if quantize else "model.onnx"


def _example(model) -> tuple[torch.Tensor, tuple[int | str, ...]]:
    """An example input and the input's shape with a named batch axis."""
    if model.backbone is None:
        d = model.head.in_features
        return torch.randn(_EXAMPLE_BATCH, d), ("batch", d)
    c, h, w = model.data_config.input_size
    return torch.randn(_EXAMPLE_BATCH, c, h, w), ("batch", c, h, w)


def _torch_export(wrapper: nn.Module, x: torch.Tensor, path: Path, names, input_name: str, opset: int, dynamo: bool):
    kw = {"input_names": [input_name], "output_names": list(names), "opset_version": opset}
    if dynamo:
        batch = torch.export.Dim("batch", min=1)
        external = sum(p.numel() * p.element_size() for p in wrapper.parameters()) > _EXTERNAL_BYTES
        with torch.no_grad():
            program = torch.onnx.export(wrapper, (x,), dynamo=True, dynamic_shapes=({0: batch},), verbose=False, **kw)
        program.save(str(path), external_data=external)
        return
    axes = {n: {0: "batch"} for n in (input_name, *names)}
    # autograd on: see the module docstring. The deprecation notice is why dynamo is the default; said above.
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks in F.multi_head_attention_forward
        torch.onnx.export(wrapper, (x,), str(path), dynamo=False, dynamic_axes=axes, **kw)


def _export_fp32(model, path: Path, opset: int, dynamo: bool | None) -> tuple[tuple[str, ...], str, tuple]:
    """Write the bare graph to ``path``; returns (output names, input name, input shape)."""
    x, shape = _example(model)
    embeddings = model.backbone is None
    with torch.no_grad():
        names = tuple(model.forward_embeddings(x) if embeddings else model(x))
    input_name = "embeddings" if embeddings else "images"
    wrapper = _Outputs(model, names, embeddings).eval()
    try:
        _torch_export(wrapper, x, path, names, input_name, opset, dynamo is not False)
    except Exception as err:  # the exporters raise many types; None means "whichever works"
        if dynamo is not None:
            raise
        warnings.warn(
            f"the dynamo ONNX exporter failed ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
            "using the TorchScript exporter",
            stacklevel=3,
        )
        _torch_export(wrapper, x, path, names, input_name, opset, False)
    return names, input_name, shape


def _write_metadata(path: Path, props: dict[str, str]) -> None:
    """Set ``props`` in the file's metadata (other tools' entries stay), save it in place and check it."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    keep = [p for p in proto.metadata_props if p.key not in props]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))
    onnx.checker.check_model(str(path))  # by path: works for files with external weights as well


def _verify(model, path: Path, names: tuple[str, ...]) -> None:
    """Run the file once in onnxruntime against torch (a batch of 3, so the dynamic axis is exercised)."""
    from emozoo.deploy.ort_model import load_onnx_model

    ort_model = load_onnx_model(path, providers=["CPUExecutionProvider"])
    x, _ = _example(model)
    x = torch.cat([x, x[:1]])
    with torch.no_grad():
        want = model.forward_embeddings(x) if model.backbone is None else model(x)
    got = ort_model.forward_embeddings(x) if model.backbone is None else ort_model(x)
    worst = max(names, key=lambda k: (got[k] - want[k]).abs().max().item())
    diff = (got[worst] - want[worst]).abs().max().item()
    if not diff <= _VERIFY_ATOL:
        raise WeightsError(
            f"{path}: onnxruntime's {worst!r} differs from torch's by {diff:.2e} (> {_VERIFY_ATOL}); the export is "
            "wrong: try the other exporter (dynamo=False / True)"
        )


def quantize_dynamic(src: Path, dst: Path) -> None:
    """int8 weights, activations quantized at run time: onnxruntime's pre-processing, then ``quantize_dynamic``."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    external = src.stat().st_size > _EXTERNAL_BYTES
    with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
        # shape inference and graph fusions first (onnxruntime's advice): the quantizer then sees whole MatMuls
        pre = Path(tmp) / "pre.onnx"
        try:
            quant_pre_process(str(src), str(pre), save_as_external_data=external)
        except Exception:  # its shape inference takes opset 23's Attention for the contrib op of that name
            pre = src
        root = logging.getLogger()  # the quantizer warns on the root logger when pre-processing was skipped
        level = root.level
        root.setLevel(max(level, logging.ERROR))
        # MatMul/Gemm only: every linear layer of the ViTs and heads. ConvInteger (int8 Conv) has no fast kernel
        # in onnxruntime's CPU provider and made cnn-tiny 4x slower; a ViT's only Conv is its patch embedding.
        try:
            ort_quantize_dynamic(
                str(pre),
                str(dst),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
                use_external_data_format=external,
            )
        finally:
            root.setLevel(level)


def quantize_onnx(src: str | Path, dst: str | Path) -> Path:
    """The int8 variant of an fp32 emozoo ONNX file (``export_onnx(..., quantize="dynamic")`` without re-export).

    The metadata is carried over, with ``emozoo.quantization`` set to ``dynamic-int8``.
    """
    import onnx

    src, dst = Path(src), Path(dst)
    props = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
    if QUANT_KEY not in props:
        raise WeightsError(f"{src}: no emozoo metadata; quantize a file written by export_onnx")
    quantize_dynamic(src, dst)
    _write_metadata(dst, {**props, QUANT_KEY: json.dumps("dynamic-int8")})
    return dst


def export_onnx(
    model,
    out: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    dynamo: bool | None = None,
    quantize: str | None = None,
    verify: bool = True,
) -> Path:
    """Write ``model`` as ONNX with its emozoo metadata; returns the file written.

    Args:
        model: an ``EmotionModel`` (``emozoo.load_model``/``create_model``), or a head without an image encoder
            (its input is then ``embeddings``).
        out: a ``.onnx`` file, or a folder that gets ``model.onnx`` (``model.int8.onnx`` with ``quantize``).
        opset: ONNX opset, 17 or newer; 23 (the default) needs onnxruntime >= 1.23, use 18 for older runtimes.
        dynamo: True for torch's dynamo exporter, False for the (deprecated) TorchScript one, None for dynamo with
            a fallback to TorchScript if it fails.
        quantize: None, or ``dynamic`` for int8 weights (onnxruntime's dynamic quantization); the fp32 file is
            then only an intermediate.
        verify: run the fp32 file once in onnxruntime and compare with torch (fails above 1e-3).

    Raises:
        ValueError: an opset below 17 or an unknown ``quantize``.
        WeightsError: the exported file disagrees with torch.
    """
    if opset < 17:
        raise ValueError(f"opset must be 17 or newer, got {opset}")
    if quantize is not None and quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE} or None, got {quantize!r}")
    out = Path(out)
    path = out if out.suffix == ".onnx" else out / onnx_file_name(quantize)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        with contextlib.ExitStack() as stack:
            fp32 = path
            if quantize:
                fp32 = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=path.parent))) / "model.onnx"
            names, input_name, shape = _export_fp32(model, fp32, opset, dynamo)
            _write_metadata(fp32, metadata_props(model, input_name, shape, names, None))
            if verify:
                _verify(model, fp32, names)
            if quantize:
                quantize_onnx(fp32, path)
    finally:
        model.train(was_training)
    return path


def export_model_onnx(
    source: str | Path,
    out: str | Path,
    *,
    encoder: str | None = None,
    neutral_means: str | None = None,
    config: str | Path | None = None,
    **kwargs,
) -> Path:
    """Load ``source`` and ``export_onnx`` it: what ``emozoo zoo export SOURCE OUT --format onnx`` does.

    Args:
        source: anything ``emozoo.load_model`` takes (zoo name, model folder, ``hf-hub:org/name``, Empathic-Insight
            release), or a Lightning ``.ckpt`` (converted first, as ``emozoo zoo export`` does; ``config`` as there).
        out: a ``.onnx`` file or a folder (see ``export_onnx``).
        encoder: Empathic-Insight only: the SigLIP2 encoder's weights (``load_model(encoder=...)``).
        neutral_means: Empathic-Insight only: the neutral means file.
        config: with a ``.ckpt``: the run's experiment config when the checkpoint does not name its model.
        **kwargs: ``opset``, ``dynamo``, ``quantize``, ``verify`` for ``export_onnx``.
    """
    from emozoo.zoo.pretrained import load_model

    if Path(source).suffix == ".ckpt" and Path(source).is_file():
        from emozoo.zoo.export import export_checkpoint

        with tempfile.TemporaryDirectory() as tmp:
            export_checkpoint(source, tmp, config=config)
            model = load_model(tmp)
    else:
        model = load_model(source, encoder=encoder, neutral_means=neutral_means)
    return export_onnx(model, out, **kwargs)
