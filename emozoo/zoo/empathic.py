"""Importer for LAION's Empathic-Insight-Face Small/Large: 40 (+4) per-emotion MLP heads on SigLIP2 embeddings.

A release directory holds ``model_<slug>_best.pth`` per emotion (slugs from ``emozoo.taxonomy``), optionally the
extra heads (``model_valence_best.pth``, ...), and the neutral means as JSON (``neutral_means.json``, or given by
the user). Layer sizes are inferred from the state dicts and checked against the expected Small/Large layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from emozoo.errors import WeightsError
from emozoo.heads import PerEmotionHead
from emozoo.model import EmotionModel
from emozoo.taxonomy import EXTRA_HEAD_SLUGS, NAMES, SLUGS, emotion_index
from emozoo.zoo.safe_load import load_state_dict

__all__ = ["EMBED_DIM", "SIZES", "infer_dims", "load_empathic_insight", "read_neutral_means"]

EMBED_DIM = 1152  # SigLIP2 so400m get_image_features width
SIZES: dict[str, tuple[int, ...]] = {"small": (128, 32), "large": (1024, 512, 256)}
NEUTRAL_FILES = ("neutral_means.json", "neutral_stats.json", "mean_emotion_scores.json")


def infer_dims(state: dict[str, torch.Tensor], head: str) -> tuple[int, ...]:
    """(in, hidden..., 1) from ``layers.N.weight`` shapes; checks that consecutive layers chain."""
    idx = sorted(int(k.split(".")[1]) for k in state if k.startswith("layers.") and k.endswith(".weight"))
    if not idx:
        raise WeightsError(f"{head}: no 'layers.N.weight' keys; found {sorted(state)[:5]}")
    dims = [state[f"layers.{idx[0]}.weight"].shape[1]]
    for i in idx:
        w, b = state[f"layers.{i}.weight"], state.get(f"layers.{i}.bias")
        if w.ndim != 2 or w.shape[1] != dims[-1]:
            raise WeightsError(f"{head}: key layers.{i}.weight has shape {tuple(w.shape)}; expected (*, {dims[-1]})")
        if b is None or b.shape != (w.shape[0],):
            raise WeightsError(f"{head}: key layers.{i}.bias is missing or not of shape ({w.shape[0]},)")
        dims.append(w.shape[0])
    return tuple(int(d) for d in dims)


def read_neutral_means(path: str | Path) -> torch.Tensor:
    """(40,) neutral means from JSON keyed by emotion name, slug or ``model_<slug>_best`` (extra keys ignored)."""
    data = json.loads(Path(path).read_text())
    means = torch.full((len(NAMES),), float("nan"), dtype=torch.float64)
    for key, value in data.items():
        slug = key.removeprefix("model_").removesuffix("_best")
        try:
            i = emotion_index(slug)
        except KeyError:
            continue  # extra dimensions have no neutral mean in the softmax
        means[i] = float(value["mean"] if isinstance(value, dict) else value)
    if torch.isnan(means).any():
        missing = [NAMES[i] for i in torch.nonzero(torch.isnan(means)).flatten().tolist()]
        raise WeightsError(f"{path}: no neutral mean for {missing[:5]} ({len(missing)} missing)")
    return means


def load_empathic_insight(
    directory: str | Path,
    size: str = "small",
    backbone: str | None = None,
    neutral_means: str | Path | torch.Tensor | None = None,
) -> EmotionModel:
    """Build Empathic-Insight-Face as an ``EmotionModel``.

    Args:
        directory: folder with ``model_<slug>_best.pth`` (or ``.safetensors``) files.
        size: ``small`` or ``large``; checked against the layer sizes found in the files.
        backbone: None returns the head alone, which takes 1152-d SigLIP2 embeddings (cached-embedding path);
            otherwise a weights source for ``siglip2-so400m-16-384`` (e.g. ``local-dir:DIR`` with a transformers
            checkpoint of ``google/siglip2-so400m-patch16-384``) for the full image model.
        neutral_means: a JSON file or a (40,) tensor; None looks for ``neutral_means.json`` in ``directory``.

    Raises:
        WeightsError: a missing head file, unsafe pickle, or layer sizes that do not match ``size``.
    """
    directory = Path(directory)
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    states, dims = {}, None
    for slug in SLUGS:
        path = next((directory / f"model_{slug}_best{ext}" for ext in (".safetensors", ".pth", ".pt")
                     if (directory / f"model_{slug}_best{ext}").is_file()), None)
        if path is None:
            raise WeightsError(f"{directory}: head file model_{slug}_best.pth is missing (one file per emotion)")
        states[slug] = load_state_dict(path)
        found = infer_dims(states[slug], f"model_{slug}_best")
        if dims is None:
            dims = found
        elif found != dims:
            raise WeightsError(f"model_{slug}_best: layer sizes {found} differ from the other heads' {dims}")
    expected = (EMBED_DIM, *SIZES[size], 1)
    if dims != expected:
        other = next((k for k, v in SIZES.items() if (EMBED_DIM, *v, 1) == dims), None)
        hint = f" These files look like size={other!r}." if other else ""
        raise WeightsError(f"{directory}: heads have layer sizes {dims}, expected {expected} for size={size!r}.{hint}")
    extras = tuple(
        name for name, slug in EXTRA_HEAD_SLUGS.items()
        if any((directory / f"model_{slug}_best{ext}").is_file() for ext in (".safetensors", ".pth", ".pt"))
    )
    head = PerEmotionHead(EMBED_DIM, len(SLUGS), hidden_dims=SIZES[size], extra_dims=extras)
    for i, slug in enumerate(SLUGS):
        _load_into(head.heads[i], states[slug], f"model_{slug}_best")
    for j, name in enumerate(extras):
        slug = EXTRA_HEAD_SLUGS[name]
        path = next(directory / f"model_{slug}_best{e}" for e in (".safetensors", ".pth", ".pt")
                    if (directory / f"model_{slug}_best{e}").is_file())
        _load_into(head.extra_heads[j], load_state_dict(path), f"model_{slug}_best")
    if neutral_means is None:
        found_file = next((directory / n for n in NEUTRAL_FILES if (directory / n).is_file()), None)
        neutral_means = found_file
    if neutral_means is not None:
        means = neutral_means if isinstance(neutral_means, torch.Tensor) else read_neutral_means(neutral_means)
        head.neutral_means.copy_(means.to(head.neutral_means.dtype))
    bb = None
    if backbone is not None:
        from emozoo.backbones import create_backbone

        bb = create_backbone("siglip2-so400m-16-384", pretrained=backbone, impl="hf")
    config = {
        "backbone": "siglip2-so400m-16-384" if bb is not None else None,
        "head": "per-emotion",
        "impl": "hf" if bb is not None else None,
        "num_emotions": len(SLUGS),
        "embed_dim": EMBED_DIM,
        "backbone_args": {},
        "head_args": {"hidden_dims": list(SIZES[size]), "extra_dims": list(extras)},
    }
    return EmotionModel(bb, head, config).eval()


def _load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        raise WeightsError(f"{name}: missing keys {missing[:3]}, unexpected keys {unexpected[:3]}, "
                           f"shape mismatches {shapes[:3]}")
    module.load_state_dict(state)
