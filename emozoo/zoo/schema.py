"""The model record (``config.json`` of a model folder): its schema, checked before anything is built.

A model folder is data made by someone else. Its ``config.json`` is parsed with a size cap, NaN/Infinity and
non-finite numbers rejected and the nesting depth bounded, then every key is checked against this schema: known
keys only (the error names the file, the key and the closest valid key), types, and bounds on every size (hidden
widths, input size, number of outputs). Backbone kwargs go through the allowlist of their implementation
(``emozoo.backbones.args``). ``pretrained`` inside a folder's record is dropped: a folder's weights are its own
``model.safetensors``, never a file or a repo its record names.
"""

from __future__ import annotations

import inspect
import json
import math
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from emozoo.backbones import BACKBONES
from emozoo.backbones.args import (
    MAX_IMAGE,
    MAX_WIDTH,
    Check,
    boolean,
    check_backbone_args,
    float_in,
    int_in,
    ints_in,
    one_of,
)
from emozoo.errors import ConfigError, WeightsError
from emozoo.heads import HEADS
from emozoo.taxonomy import NAMES

__all__ = ["MAX_CONFIG_BYTES", "MAX_DEPTH", "METRIC_PATHS", "parse_json", "validate_record"]

MAX_CONFIG_BYTES = 2**20  # a record is about 2 KB; 1 MiB leaves room for long metric lists and nothing else
MAX_DEPTH = 8  # the record nests 4 deep (model.backbone_args.widths[i]); twice that is plenty
MAX_OUTPUTS = 4096  # emotions (40) plus any extra dimensions, with a wide margin
METRIC_PATHS = {  # config.json "metrics" key -> path in an agreement report
    "mean_spearman": ("model", "mean_spearman"),
    "spearman_ci": ("model", "spearman_ci"),
    "random_mean_spearman": ("random", "mean_spearman"),
    "raters_loo_mean_spearman": ("raters", "loo_mean_spearman"),
    "kappa_model_human": ("kappa", "model_human", "mean"),
    "kappa_human_human": ("kappa", "human_human", "mean"),
    "mann_whitney_p": ("kappa", "mann_whitney", "p_value"),
    "could_be_annotator": ("kappa", "mann_whitney", "could_be_annotator"),
    "alpha_humans": ("alpha", "mean"),
}


def _text(max_len: int) -> Check:
    return lambda v: None if isinstance(v, str) and len(v) <= max_len else f"a string of at most {max_len} characters"


def _optional(check: Check) -> Check:
    return lambda v: None if v is None else check(v)


def _metric(v: Any) -> str | None:
    if v is None or boolean(v) is None or float_in(-1e12, 1e12)(v) is None:
        return None
    return None if _floats(2)(v) is None else "null, true/false, a finite number or a pair of them"


def _floats(n: int, lo: float = -1e6, hi: float = 1e6) -> Check:
    def check(v: Any) -> str | None:
        ok = isinstance(v, list) and len(v) == n and all(float_in(lo, hi)(x) is None for x in v)
        return None if ok else f"a list of {n} finite numbers in [{lo:g}, {hi:g}]"

    return check


def _names(v: Any) -> str | None:
    ok = isinstance(v, list) and len(v) <= 16 and all(_text(64)(x) is None for x in v)
    return None if ok else "a list of at most 16 names"


_TOP: dict[str, Check] = {
    "emozoo_version": _text(64),
    "taxonomy_version": _text(64),
    "emotions": lambda v: None if v == list(NAMES) else f"the {len(NAMES)} EmoNet-Face emotion names in order",
    "model": lambda v: None if isinstance(v, dict) else "a mapping",
    "preprocessing": lambda v: None if v is None or isinstance(v, dict) else "a mapping or null",
    "metrics": lambda v: None if v is None or isinstance(v, dict) else "a mapping or null",
    "experiment": _text(256),
}
_MODEL: dict[str, Check] = {
    "backbone": _optional(one_of(*BACKBONES.names())),
    "head": one_of(*HEADS.names()),
    "impl": _optional(one_of("timm", "open_clip", "hf", "builtin")),
    "num_emotions": int_in(1, MAX_OUTPUTS),
    "embed_dim": _optional(int_in(1, MAX_WIDTH)),
    "backbone_args": lambda v: None if isinstance(v, dict) else "a mapping",
    "head_args": lambda v: None if isinstance(v, dict) else "a mapping",
    "crop_pct": _optional(float_in(0.01, 1.0)),
    "pretrained": lambda v: None,  # dropped: a folder's weights are its own
}
_HEAD_ARGS: dict[str, Check] = {
    "hidden_dim": _optional(int_in(0, MAX_WIDTH)),
    "hidden_dims": lambda v: None if v == [] else ints_in(1, MAX_WIDTH, 16)(v),
    "dropout": float_in(0.0, 0.99),
    "extra_dims": _names,
}
_SIDES = lambda v: None if len(v) == 2 and ints_in(1, MAX_IMAGE, 2)(v) is None else "two sides"  # noqa: E731
_SIZE = f"[3, H, W] with H and W in [1, {MAX_IMAGE}]"
_PREPROCESSING: dict[str, Check] = {
    "input_size": lambda v: None if isinstance(v, list) and v[:1] == [3] and _SIDES(v[1:]) is None else _SIZE,
    "mean": _floats(3, -10.0, 10.0),
    "std": _floats(3, 1e-6, 10.0),
    "interpolation": one_of("bilinear", "bicubic", "nearest"),
    "crop_pct": float_in(0.01, 1.0),
    "crop_mode": one_of("center", "squash"),
}


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number emozoo accepts")


def _depth(obj: Any) -> int:
    """Nesting depth, without recursion (a hostile file must not exhaust the stack here either)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d <= MAX_DEPTH and isinstance(node, (dict, list)):
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_json(path: Path) -> Any:
    """``path`` as JSON: size-capped, finite numbers only, depth-bounded. Raises a one-line ``WeightsError``."""
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise WeightsError(f"{path}: {size} bytes; a model record is at most {MAX_CONFIG_BYTES} bytes")
    try:
        data = json.loads(path.read_bytes(), parse_float=_finite, parse_constant=_reject_constant)
    except RecursionError:
        raise WeightsError(f"{path}: nested deeper than JSON parsing allows; not an emozoo model record") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, non-finite numbers, huge integers
        raise WeightsError(f"{path}: not valid JSON for a model record ({str(err).splitlines()[0][:200]})") from None
    if _depth(data) > MAX_DEPTH:
        raise WeightsError(f"{path}: nested more than {MAX_DEPTH} levels deep; not an emozoo model record")
    return data


def _check_keys(path: Path, where: str, data: dict[str, Any], schema: dict[str, Check]) -> None:
    for key, value in data.items():
        if key not in schema:
            close = get_close_matches(str(key), list(schema), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise WeightsError(f"{path}: {where}unknown key {str(key)[:60]!r}{hint} Valid: {', '.join(schema)}")
        expected = schema[key](value)
        if expected is not None:
            raise WeightsError(f"{path}: {where}{key} = {json.dumps(value)[:60]} must be {expected}")


def _head_kwargs(head: str) -> dict[str, Check]:
    """The kwargs the head's constructor takes besides its widths in and out, with their checks."""
    params = inspect.signature(HEADS.get(head)).parameters
    return {k: _HEAD_ARGS[k] for k in params if k not in ("in_features", "num_emotions") and k in _HEAD_ARGS}


def validate_record(data: Any, path: Path) -> dict[str, Any]:
    """The checked record of ``path``, with ``model.pretrained`` dropped; raises a one-line ``WeightsError``."""
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: not an emozoo model record (expected a JSON object with a 'model' key)")
    _check_keys(path, "", data, _TOP)
    if "model" not in data:
        raise WeightsError(f"{path}: not an emozoo model record (no 'model' key); write it with save_pretrained")
    model = {k: v for k, v in data["model"].items() if k != "pretrained"}
    _check_keys(path, "model.", model, _MODEL)
    backbone, impl = model.get("backbone"), model.get("impl")
    if backbone is None and model.get("embed_dim") is None:
        raise WeightsError(f"{path}: model.embed_dim is needed for a head-only model (backbone null)")
    if backbone is not None:
        spec = BACKBONES.get(backbone)
        impl = impl or spec.impl
        if impl not in spec.impls:
            raise WeightsError(f"{path}: model.impl = {impl!r}; backbone {backbone!r} has {', '.join(spec.impls)}")
        try:
            check_backbone_args(impl, model.get("backbone_args") or {}, f"{path}: model.backbone_args")
        except ConfigError as err:
            raise WeightsError(str(err)) from None
    _check_keys(path, "model.head_args.", model.get("head_args") or {}, _head_kwargs(model.get("head", "mlp")))
    if data.get("preprocessing"):
        _check_keys(path, "preprocessing.", data["preprocessing"], _PREPROCESSING)
        missing = [k for k in ("input_size", "mean", "std") if k not in data["preprocessing"]]
        if missing:
            raise WeightsError(f"{path}: preprocessing lacks {', '.join(missing)}")
    _check_keys(path, "metrics.", data.get("metrics") or {}, dict.fromkeys(METRIC_PATHS, _metric))
    return {**data, "model": model}
