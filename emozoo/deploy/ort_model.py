"""``OrtEmotionModel``: an exported ``model.onnx`` run by onnxruntime, behind the interface the predict path uses.

What ``emozoo predict`` reads from an ``EmotionModel`` works the same here: ``model(images)`` on a normalised
float batch returns the same dict of float32 CPU tensors (``intensity``, ``distribution``, ..., ``extra``);
``model.transform()`` and ``model.data_config`` give the preprocessing stored in the file; ``model.head`` has
``num_emotions`` and ``extra_dims``; ``next(model.parameters()).device`` says where inputs go (the CPU:
onnxruntime copies them to the GPU itself). Nothing here needs the model's Python code or its registry entry.

Providers: TensorRT and CUDA first when the installed onnxruntime (onnxruntime-gpu) offers them, then the CPU;
only the CPU with the plain ``onnxruntime`` wheel.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emozoo.backbones.base import DataConfig
from emozoo.deploy.metadata import HINT, OnnxMetadata, read_metadata
from emozoo.errors import WeightsError

__all__ = ["OrtEmotionModel", "default_providers", "load_onnx_model"]

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def default_providers() -> list[str]:
    """TensorRT and CUDA where this onnxruntime build has them, then the CPU provider."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in GPU_PROVIDERS if p in available] + ["CPUExecutionProvider"]


@dataclass(frozen=True)
class OrtHead:
    """What callers read from ``EmotionModel.head``."""

    num_emotions: int
    extra_dims: tuple[str, ...]
    in_features: int | None = None  # embedding models only


class OrtEmotionModel:
    """An emozoo ONNX file in an onnxruntime session. Build it with ``load_onnx_model``.

    Attributes:
        path: the ``.onnx`` file.
        session: the ``onnxruntime.InferenceSession``.
        metadata: the file's checked emozoo metadata.
        head: ``num_emotions`` and ``extra_dims`` (as on an ``EmotionModel``).
        config: the ``create_model`` config it was exported from (provenance only).
    """

    def __init__(self, path: Path, session: Any, metadata: OnnxMetadata):
        self.path, self.session, self.metadata = path, session, metadata
        self.config = dict(metadata.model_config)
        in_features = metadata.input_shape[-1] if metadata.input_name == "embeddings" else None
        self.head = OrtHead(len(metadata.emotions), metadata.extra_dims, in_features)

    def __repr__(self) -> str:
        return f"OrtEmotionModel({str(self.path)!r}, providers={self.providers})"

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    @property
    def data_config(self) -> DataConfig | None:
        return self.metadata.data_config

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def transform(self, train: bool = False):
        """The image transform stored in the file (``emozoo.backbones.create_transform`` of its preprocessing)."""
        from emozoo.backbones import create_transform

        if self.data_config is None:
            raise ValueError(f"{self.path} takes embeddings, not images")
        return create_transform(self.data_config, train=train)

    def parameters(self) -> Iterator[torch.Tensor]:
        """One empty CPU tensor: code that finds the input device with ``next(model.parameters()).device``."""
        yield torch.empty(0)

    def buffers(self) -> Iterator[torch.Tensor]:
        return iter(())

    def to(self, *args: Any, **kwargs: Any) -> OrtEmotionModel:
        """A no-op: onnxruntime's providers, not torch, decide where the model runs; inputs stay on the CPU."""
        return self

    training = False  # an inference graph: the scoring loop's eval()/train() round trip is a no-op

    def eval(self) -> OrtEmotionModel:
        return self

    def train(self, mode: bool = True) -> OrtEmotionModel:
        """Only ``train(False)`` makes sense; an exported graph has no training mode to switch to."""
        if mode:
            raise ValueError(f"{self.path} is an exported inference graph; it has no training mode")
        return self

    def run(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """The numpy interface: a float32 batch to the named float32 outputs."""
        shape = self.metadata.input_shape
        if inputs.ndim != len(shape) or any(isinstance(s, int) and s != n for s, n in zip(shape[1:], inputs.shape[1:])):
            raise ValueError(
                f"{self.path} takes {self.metadata.input_name} of shape {tuple(shape)}, got {tuple(inputs.shape)}"
            )
        arr = np.ascontiguousarray(inputs, dtype=np.float32)
        values = self.session.run(None, {self.metadata.input_name: arr})
        return dict(zip(self.metadata.outputs, values))

    def _forward(self, x: torch.Tensor, what: str) -> dict[str, torch.Tensor]:
        if self.metadata.input_name != what:
            raise ValueError(f"{self.path} takes {self.metadata.input_name}, not {what}")
        out = self.run(x.detach().to("cpu", torch.float32).numpy())
        return {k: torch.from_numpy(v) for k, v in out.items()}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Normalised images (B, 3, H, W) to the ``EmotionModel`` output dict."""
        return self._forward(images, "images")

    __call__ = forward

    def forward_embeddings(self, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embeddings (B, D) to the output dict, for a file exported from a head without an image encoder."""
        return self._forward(embeddings, "embeddings")


def _session(path: Path, providers: Sequence[str] | None, threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    wanted = list(providers) if providers is not None else default_providers()
    try:
        return ort.InferenceSession(str(path), options, providers=wanted)
    except Exception as err:  # onnxruntime raises its own exception types, with multi-line messages
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:240]
        if providers is None and wanted != ["CPUExecutionProvider"] and "protobuf" not in first.lower():
            # a GPU provider listed by onnxruntime-gpu but missing its libraries (CUDA, TensorRT) fails here
            warnings.warn(f"{path}: {', '.join(wanted[:-1])} failed ({first}); using the CPU", stacklevel=3)
            return _session(path, ["CPUExecutionProvider"], threads)
        raise WeightsError(f"{path}: onnxruntime cannot load it ({type(err).__name__}: {first}); {HINT}") from None


def _check_graph(path: Path, session: Any, meta: OnnxMetadata) -> None:
    """The graph's input and outputs must be the ones its metadata describes."""
    inputs = session.get_inputs()
    outputs = tuple(o.name for o in session.get_outputs())
    if len(inputs) != 1 or inputs[0].name != meta.input_name:
        names = [i.name for i in inputs]
        raise WeightsError(f"{path}: graph inputs {names} are not the one its metadata names ({meta.input_name!r})")
    if outputs != meta.outputs:
        raise WeightsError(f"{path}: graph outputs {list(outputs)} differ from its metadata's {list(meta.outputs)}")
    if list(inputs[0].shape[1:]) != list(meta.input_shape[1:]):
        raise WeightsError(f"{path}: graph input shape {inputs[0].shape} differs from its metadata's")


def load_onnx_model(
    path: str | Path,
    *,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    images: bool = False,
) -> OrtEmotionModel:
    """Open an ONNX file written by ``emozoo.deploy.export_onnx`` (``emozoo zoo export ... --format onnx``).

    Args:
        path: the ``.onnx`` file.
        providers: onnxruntime execution providers in order of preference; None for ``default_providers()``
            (GPU ones when available, falling back to the CPU if they fail to start).
        threads: onnxruntime's intra-op threads (None: its default, one per physical core).
        images: require a model that takes images (the predict path), not embeddings.

    Raises:
        WeightsError: the file is missing, not ONNX, has no or bad emozoo metadata, or a graph that does not
            match its metadata; one line that names the file and says how to re-export it.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"ONNX model not found: {path} (write one with `emozoo zoo export MODEL OUT --format onnx`)")
    session = _session(path, providers, threads)
    props = dict(session.get_modelmeta().custom_metadata_map)
    meta = read_metadata(path, props)
    _check_graph(path, session, meta)
    if images and meta.input_name != "images":
        raise WeightsError(
            f"{path} is an emotion head without an image encoder (it takes embeddings); export the model with its "
            "encoder (emozoo zoo export MODEL OUT --format onnx --encoder ...)"
        )
    return OrtEmotionModel(path, session, meta)
