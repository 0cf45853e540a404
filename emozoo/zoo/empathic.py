"""Importer for LAION's Empathic-Insight-Face Small/Large: 40 (+4) per-emotion MLP heads on SigLIP2 embeddings.

A release folder (local, or ``hf-hub:laion/Empathic-Insight-Face-{Small,Large}`` from the HF cache) holds
``model_<slug>_best.pth`` per emotion (slugs from ``emozoo.taxonomy``), optionally the extra heads
(``model_valence_best.pth``, ...), and maybe the neutral means as JSON. Layer sizes are inferred from the state
dicts and checked against the expected Small/Large layout. The outputs follow the published post-processing:
raw scores, minus the per-emotion neutral means, softmax over the 40 (``PerEmotionHead``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from emozoo.backbones.hub import cached_file, parse_hub_id, snapshot_dir
from emozoo.backbones.readers import read_state_dict
from emozoo.backbones.weights import normalise_pretrained
from emozoo.errors import WeightsError
from emozoo.heads import PerEmotionHead
from emozoo.model import EmotionModel
from emozoo.taxonomy import EXTRA_HEAD_SLUGS, SLUGS
from emozoo.zoo.format import load_checked
from emozoo.zoo.neutral import NEUTRAL_FILES, read_neutral_means

__all__ = [
    "EMBED_DIM",
    "ENCODER",
    "SIZES",
    "head_file_names",
    "infer_dims",
    "is_empathic_dir",
    "load_empathic_insight",
    "load_release",
    "looks_empathic_hub",
    "read_neutral_means",
]

EMBED_DIM = 1152  # SigLIP2 so400m get_image_features width
ENCODER = "siglip2-so400m-16-384"  # the backbone registry entry of google/siglip2-so400m-patch16-384
SIZES: dict[str, tuple[int, ...]] = {"small": (128, 32), "large": (1024, 512, 256)}
_EXTS = (".safetensors", ".pth", ".pt")  # safetensors first: it cannot run code


def head_file_names(slugs=SLUGS) -> list[tuple[str, ...]]:
    """Per head, the accepted file names (most preferred first)."""
    return [tuple(f"model_{s}_best{e}" for e in _EXTS) for s in slugs]


def _find(directory: Path, slug: str) -> Path | None:
    return next((directory / n for n in head_file_names([slug])[0] if (directory / n).is_file()), None)


def is_empathic_dir(directory: str | Path) -> bool:
    """True when ``directory`` holds the first emotion's head file (a release folder, not a save_pretrained one)."""
    return Path(directory).is_dir() and _find(Path(directory), SLUGS[0]) is not None


def infer_dims(state: dict[str, torch.Tensor], head: str) -> tuple[int, ...]:
    """(in, hidden..., 1) from ``layers.N.weight`` shapes; checks that consecutive layers chain."""
    idx = sorted(
        int(k.split(".")[1]) for k in state if k.startswith("layers.") and k.endswith(".weight") and k[7:-7].isdigit()
    )
    if not idx:
        raise WeightsError(f"{head}: no 'layers.N.weight' keys; found {sorted(state)[:5]}")
    first = state[f"layers.{idx[0]}.weight"]
    if first.ndim != 2:
        raise WeightsError(f"{head}: key layers.{idx[0]}.weight has shape {tuple(first.shape)}; expected 2 dimensions")
    dims = [first.shape[1]]
    for i in idx:
        w, b = state[f"layers.{i}.weight"], state.get(f"layers.{i}.bias")
        if w.ndim != 2 or w.shape[1] != dims[-1]:
            raise WeightsError(f"{head}: key layers.{i}.weight has shape {tuple(w.shape)}; expected (*, {dims[-1]})")
        if b is None or b.shape != (w.shape[0],):
            raise WeightsError(f"{head}: key layers.{i}.bias is missing or not of shape ({w.shape[0]},)")
        dims.append(w.shape[0])
    return tuple(int(d) for d in dims)


def _release_dir(directory: str | Path) -> Path:
    text = str(directory)
    if text.startswith("hf-hub:"):
        return snapshot_dir(text, head_file_names(), optional=(*NEUTRAL_FILES, "README.md"))
    path = Path(text).expanduser()
    if not path.is_dir():
        raise WeightsError(f"Empathic-Insight release folder not found: {path} (expected model_<slug>_best.pth files)")
    return path


def _read_heads(directory: Path) -> tuple[dict[str, dict[str, torch.Tensor]], tuple[int, ...]]:
    states, dims = {}, None
    for slug in SLUGS:
        path = _find(directory, slug)
        if path is None:
            raise WeightsError(f"{directory}: head file model_{slug}_best.pth is missing (one file per emotion)")
        states[slug] = read_state_dict(path)
        found = infer_dims(states[slug], f"model_{slug}_best")
        if dims is None:
            dims = found
        elif found != dims:
            raise WeightsError(f"model_{slug}_best: layer sizes {found} differ from the other heads' {dims}")
    return states, dims


def _check_size(directory: Path, dims: tuple[int, ...], size: str | None) -> str:
    """The size whose hidden layers match ``dims`` (``size`` if given, else inferred)."""
    hidden = dims[1:-1]
    found = next((k for k, v in SIZES.items() if v == hidden), None)
    if size is None and found is None:
        raise WeightsError(
            f"{directory}: hidden layer sizes {hidden} are neither Small {SIZES['small']} nor Large {SIZES['large']}"
        )
    size = size or found
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)} or None (infer), got {size!r}")
    if hidden != SIZES[size] or dims[-1] != 1:
        hint = f" These files look like size={found!r}." if found else ""
        raise WeightsError(
            f"{directory}: heads have layer sizes {dims}, expected {(dims[0], *SIZES[size], 1)} for "
            f"size={size!r}.{hint}"
        )
    return size


def _check_width(directory: Path, dims: tuple[int, ...], width: int, with_encoder: bool) -> None:
    if dims[0] == width:
        return
    what = "the encoder gives" if with_encoder else "embed_dim is"
    raise WeightsError(
        f"{directory}: heads take {dims[0]}-d embeddings but {what} {width}-d; use the matching "
        f"encoder (SigLIP2 so400m gives {EMBED_DIM}-d), or embed_dim={dims[0]} for the heads alone"
    )


def load_empathic_insight(
    directory: str | Path,
    size: str | None = "small",
    backbone: str | bool | None = None,
    neutral_means: str | Path | torch.Tensor | None = None,
    *,
    impl: str = "hf",
    backbone_args: dict | None = None,
    embed_dim: int | None = None,
) -> EmotionModel:
    """Build Empathic-Insight-Face as an ``EmotionModel``.

    Args:
        directory: folder with ``model_<slug>_best.pth`` (or ``.safetensors``) files, or
            ``hf-hub:laion/Empathic-Insight-Face-{Small,Large}`` (from the HF cache; fetched unless offline).
        size: ``small``, ``large`` (checked against the layer sizes in the files), or None to infer it.
        backbone: None (or False) returns the heads alone, which take embeddings (cached-embedding path); else the
            SigLIP2 encoder's weights for ``siglip2-so400m-16-384``: ``true`` (``hf-hub:google/siglip2-so400m-
            patch16-384``), ``hf-hub:...``, ``local-dir:DIR`` or a file (see ``emozoo.backbones.create_backbone``).
        neutral_means: a JSON file, a ``.jsonl`` of published outputs (``raw`` and ``mean_subtracted`` per head,
            like ``ferd.jsonl``) or a (40,) tensor; None looks for ``neutral_means.json`` (and the other
            ``NEUTRAL_FILES``) in the release folder, else warns and uses zeros.
        impl: the encoder implementation (``hf``: transformers ``get_image_features``, as the heads were trained).
        backbone_args: encoder constructor kwargs; for a differently sized SigLIP (tests, other checkpoints) the
            heads' input width must then equal the encoder's ``num_features``.
        embed_dim: input width a head-only model must take (checked; default: the width in the files, 1152 for the
            published heads); ignored with a backbone, whose ``num_features`` is checked instead.

    Raises:
        WeightsError: a missing head file, unsafe pickle, layer sizes that do not match ``size``, or heads whose
            input width differs from the encoder's.
    """
    directory = _release_dir(directory)
    states, dims = _read_heads(directory)
    # Everything that can fail fast is checked before a 400M-parameter encoder is built.
    size = _check_size(directory, dims, size)
    extras = tuple(name for name, slug in EXTRA_HEAD_SLUGS.items() if _find(directory, slug) is not None)
    extra_states = [read_state_dict(_find(directory, EXTRA_HEAD_SLUGS[name])) for name in extras]
    means = _neutral_means(directory, neutral_means)
    bb = None
    if normalise_pretrained(backbone) is not None:  # "false"/"none" mean no encoder, never a random one
        from emozoo.backbones import create_backbone

        bb = create_backbone(ENCODER, pretrained=backbone, impl=impl, **dict(backbone_args or {}))
    # With an encoder, the heads must take its embeddings; alone, they take what their files say unless told.
    width = bb.num_features if bb is not None else (embed_dim or dims[0])
    _check_width(directory, dims, width, bb is not None)
    head = PerEmotionHead(width, len(SLUGS), hidden_dims=SIZES[size], extra_dims=extras)
    for i, slug in enumerate(SLUGS):
        _load_into(head.heads[i], states[slug], f"model_{slug}_best")
    for j, name in enumerate(extras):
        _load_into(head.extra_heads[j], extra_states[j], f"model_{EXTRA_HEAD_SLUGS[name]}_best")
    if means is not None:
        head.neutral_means.copy_(means.to(head.neutral_means.dtype))
    config = {
        "backbone": ENCODER if bb is not None else None,
        "head": "per-emotion",
        "impl": impl if bb is not None else None,
        "num_emotions": len(SLUGS),
        "embed_dim": width,
        "backbone_args": dict(backbone_args or {}) if bb is not None else {},
        "head_args": {"hidden_dims": list(SIZES[size]), "extra_dims": list(extras)},
    }
    return EmotionModel(bb, head, config).eval()


def _neutral_means(directory: Path, given: str | Path | torch.Tensor | None) -> torch.Tensor | None:
    """The (40,) means given, else the release's own file, else None (with a warning: raw softmax)."""
    if given is None:
        given = next((directory / n for n in NEUTRAL_FILES if (directory / n).is_file()), None)
    if given is None:
        warnings.warn(
            f"{directory}: no neutral means ({', '.join(NEUTRAL_FILES)}); the distribution is the softmax of the raw "
            "scores. Pass neutral_means=FILE (--neutral-means) for the published post-processing.",
            stacklevel=3,
        )
        return None
    means = given if isinstance(given, torch.Tensor) else read_neutral_means(given)
    if tuple(means.shape) != (len(SLUGS),):
        raise WeightsError(f"neutral means must have shape ({len(SLUGS)},), got {tuple(means.shape)}")
    return means


def _load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    load_checked(module, state, name, "a published head layout", "Is it an Empathic-Insight-Face head file?")


def load_release(
    source: str | Path,
    encoder: str | bool | None,
    encoder_args: dict | None,
    neutral_means: str | Path | torch.Tensor | None,
    size: str | None = None,
    impl: str = "hf",
) -> EmotionModel:
    """``load_empathic_insight`` with ``load_model``'s argument names: ``encoder=None`` means the default encoder."""
    backbone = "true" if encoder is None else encoder
    return load_empathic_insight(
        source, size, backbone=backbone, neutral_means=neutral_means, impl=impl, backbone_args=encoder_args
    )


def looks_empathic_hub(source: str, config_name: str) -> bool:
    """True for an ``hf-hub:`` repo that is an Empathic-Insight release rather than an emozoo model folder."""
    repo, rev = parse_hub_id(source)
    if cached_file(repo, config_name, rev) is not None:
        return False
    return "empathic-insight" in repo.lower() or cached_file(repo, f"model_{SLUGS[0]}_best.pth", rev) is not None
