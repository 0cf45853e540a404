"""The emozoo metadata of an ONNX file: what makes ``model.onnx`` enough, on its own, to run a model.

Every value is a JSON string in the model's ``metadata_props`` under an ``emozoo.`` key:

- ``emozoo.format``: 1, the version of this layout;
- ``emozoo.version``: the emozoo version that wrote the file;
- ``emozoo.taxonomy``: ``{"version": "emonet-face-v1", "emotions": [40 names in output order]}``;
- ``emozoo.preprocessing``: the ``DataConfig`` (input size, mean/std, interpolation, crop), or null for a model
  that takes embeddings;
- ``emozoo.input``: ``{"name": "images" | "embeddings", "shape": ["batch", ...]}``;
- ``emozoo.outputs``: the output names, in the order of ``EmotionModel.forward``'s dict;
- ``emozoo.extra_dims``: names of the columns of the ``extra`` output (valence, arousal, ...), maybe empty;
- ``emozoo.model``: the ``create_model`` config, for provenance only (never used to build anything);
- ``emozoo.quantization``: null, or ``dynamic-int8``.

A file someone else made is untrusted: ``read_metadata`` bounds every value's size, accepts only the keys above,
checks each value's type and range and fails with one line naming the file and the key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emozoo.backbones.base import DataConfig
from emozoo.errors import WeightsError
from emozoo.taxonomy import EXTRA_DIMENSIONS, NAMES, TAXONOMY_VERSION

__all__ = ["FORMAT", "KEYS", "OUTPUT_NAMES", "OnnxMetadata", "metadata_props", "read_metadata"]

FORMAT = 1
PREFIX = "emozoo."
KEYS = ("format", "version", "taxonomy", "preprocessing", "input", "outputs", "extra_dims", "model", "quantization")
REQUIRED = ("format", "version", "taxonomy", "preprocessing", "input", "outputs", "extra_dims")
# Every key any head returns (emozoo.heads); the predict path needs the first two.
OUTPUT_NAMES = (
    "intensity",
    "distribution",
    "logits",
    "expected_intensity",
    "presence_logits",
    "raw",
    "mean_subtracted",
    "extra",
)
QUANTIZATIONS = (None, "dynamic-int8")
INPUTS = ("images", "embeddings")
MAX_VALUE_CHARS = 64 * 1024  # the largest real value (the model config) is about 1 KB
MAX_PROPS = 64
_INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
_CROP_MODES = ("center", "squash")
HINT = "re-export it with `emozoo zoo export MODEL OUT --format onnx`"


@dataclass(frozen=True)
class OnnxMetadata:
    """The checked contents of an ONNX file's emozoo metadata."""

    version: str
    emotions: tuple[str, ...]
    data_config: DataConfig | None
    input_name: str
    input_shape: tuple[int | str, ...]
    outputs: tuple[str, ...]
    extra_dims: tuple[str, ...] = ()
    model_config: dict[str, Any] = field(default_factory=dict)
    quantization: str | None = None


def metadata_props(
    model, input_name: str, input_shape: tuple[int | str, ...], outputs: tuple[str, ...], quantization: str | None
) -> dict[str, str]:
    """The ``metadata_props`` (key to JSON string) for an ``EmotionModel`` exported with these inputs/outputs."""
    from emozoo._version import __version__

    values = {
        "format": FORMAT,
        "version": __version__,
        "taxonomy": {"version": TAXONOMY_VERSION, "emotions": list(NAMES[: model.head.num_emotions])},
        "preprocessing": model.data_config.to_dict() if model.data_config is not None else None,
        "input": {"name": input_name, "shape": list(input_shape)},
        "outputs": list(outputs),
        "extra_dims": list(getattr(model.head, "extra_dims", ())),
        "model": dict(model.config),
        "quantization": quantization,
    }
    return {PREFIX + k: json.dumps(v, default=str) for k, v in values.items()}


class _Checker:
    """Reads one file's props; every failure is a one-line ``WeightsError`` naming the file and the key."""

    def __init__(self, path: Path, props: dict[str, str]):
        self.path, self.props = path, props

    def fail(self, key: str, what: str) -> WeightsError:
        return WeightsError(f"{self.path}: metadata {PREFIX}{key} {what}; {HINT}")

    def load(self, key: str) -> Any:
        text = self.props.get(PREFIX + key)
        if text is None:
            if key in REQUIRED:
                raise self.fail(key, "is missing")
            return None
        if len(text) > MAX_VALUE_CHARS:
            raise self.fail(key, f"is {len(text)} characters long (at most {MAX_VALUE_CHARS})")
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as err:
            raise self.fail(key, f"is not JSON ({type(err).__name__})") from None

    def strings(self, key: str, value: Any, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        bad = [v for v in value if allowed is not None and v not in allowed]
        if bad:
            raise self.fail(key, f"has unknown name {bad[0][:40]!r} (known: {', '.join(allowed)})")
        if len(set(value)) != len(value):
            raise self.fail(key, "repeats a name")
        return tuple(value)

    def data_config(self, value: Any) -> DataConfig | None:
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != set(DataConfig().to_dict()):
            raise self.fail("preprocessing", f"must have exactly the keys {sorted(DataConfig().to_dict())}")
        size, mean, std = value["input_size"], value["mean"], value["std"]
        if not (_ints(size, 3) and size[0] == 3 and all(1 <= s <= 8192 for s in size[1:])):
            raise self.fail("preprocessing", f"input_size {str(size)[:40]} is not [3, H, W] with 1 <= H, W <= 8192")
        if not (_floats(mean, 3) and _floats(std, 3) and all(s > 0 for s in std)):
            raise self.fail("preprocessing", "mean and std must be 3 finite numbers each, std > 0")
        crop = value["crop_pct"]
        if not (_floats([crop], 1) and 0 < crop <= 1):
            raise self.fail("preprocessing", f"crop_pct {str(crop)[:20]} is not in (0, 1]")
        if value["interpolation"] not in _INTERPOLATIONS or value["crop_mode"] not in _CROP_MODES:
            raise self.fail(
                "preprocessing", f"interpolation/crop_mode must be one of {_INTERPOLATIONS} / {_CROP_MODES}"
            )
        return DataConfig.from_dict(value)


def _ints(v: Any, n: int) -> bool:
    return isinstance(v, list) and len(v) == n and all(isinstance(x, int) and not isinstance(x, bool) for x in v)


def _floats(v: Any, n: int) -> bool:
    return (
        isinstance(v, list)
        and len(v) == n
        and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in v)
    )


def read_metadata(path: str | Path, props: dict[str, str]) -> OnnxMetadata:
    """Check an ONNX file's ``metadata_props`` (``props``: key to string) and return what they say.

    Raises:
        WeightsError: no emozoo metadata, an unknown ``emozoo.`` key, a value too long, not JSON, or of the wrong
            type or range; a taxonomy other than this emozoo's. The message names ``path`` and the key.
    """
    path = Path(path)
    if len(props) > MAX_PROPS:
        raise WeightsError(f"{path}: {len(props)} metadata entries (at most {MAX_PROPS}); {HINT}")
    if PREFIX + "format" not in props:
        raise WeightsError(f"{path}: no emozoo metadata ({PREFIX}format); it was not written by emozoo, so {HINT}")
    unknown = sorted(k for k in props if k.startswith(PREFIX) and k[len(PREFIX) :] not in KEYS)
    if unknown:  # other tools' keys are ignored; an unknown one of ours means a newer layout we cannot read
        raise WeightsError(f"{path}: unknown metadata key {unknown[0][:60]!r} (known: {', '.join(KEYS)}); {HINT}")
    c = _Checker(path, props)
    if c.load("format") != FORMAT:
        raise c.fail("format", f"is {props[PREFIX + 'format'][:20]}, this emozoo reads {FORMAT}")
    version = c.load("version")
    if not isinstance(version, str) or len(version) > 64:
        raise c.fail("version", "must be a version string")
    taxonomy = c.load("taxonomy")
    if not isinstance(taxonomy, dict) or set(taxonomy) != {"version", "emotions"}:
        raise c.fail("taxonomy", 'must be {"version": ..., "emotions": [...]}')
    emotions = c.strings("taxonomy", taxonomy["emotions"])
    if taxonomy["version"] != TAXONOMY_VERSION or emotions != NAMES[: len(emotions)] or not emotions:
        raise c.fail("taxonomy", f"is not this emozoo's {TAXONOMY_VERSION} ({len(NAMES)} emotions in its order)")
    inp = c.load("input")
    if not isinstance(inp, dict) or set(inp) != {"name", "shape"} or inp["name"] not in INPUTS:
        raise c.fail("input", f'must be {{"name": one of {INPUTS}, "shape": [...]}}')
    shape = inp["shape"]
    if not (isinstance(shape, list) and 2 <= len(shape) <= 4 and all(isinstance(s, int | str) for s in shape)):
        raise c.fail("input", "shape must be a list of 2 to 4 sizes")
    outputs = c.strings("outputs", c.load("outputs"), OUTPUT_NAMES)
    if not {"intensity", "distribution"} <= set(outputs):
        raise c.fail("outputs", "must include intensity and distribution")
    extra = c.strings("extra_dims", c.load("extra_dims"), tuple(EXTRA_DIMENSIONS))
    if bool(extra) != ("extra" in outputs):
        raise c.fail("extra_dims", "must name the columns of the extra output, and only when there is one")
    model_config = c.load("model")
    quant = c.load("quantization")
    if quant not in QUANTIZATIONS:
        raise c.fail("quantization", f"must be one of {QUANTIZATIONS}")
    data_config = c.data_config(c.load("preprocessing"))
    if (data_config is None) != (inp["name"] == "embeddings"):
        raise c.fail("preprocessing", "must be given for an image model and null for an embedding model")
    if data_config is not None and list(shape[1:]) != list(data_config.input_size):
        raise c.fail("input", f"shape {shape} does not match the preprocessing's {list(data_config.input_size)}")
    return OnnxMetadata(
        version=version,
        emotions=emotions,
        data_config=data_config,
        input_name=inp["name"],
        input_shape=tuple(shape),
        outputs=outputs,
        extra_dims=extra,
        model_config=model_config if isinstance(model_config, dict) else {},
        quantization=quant,
    )
