"""Our own checkpoint format: ``config.json`` + ``model.safetensors`` + ``README.md``; ``load_model`` restores it.

``load_model`` takes a directory, or ``hf-hub:org/name`` resolved through the Hugging Face cache (offline-safe:
with ``HF_HUB_OFFLINE=1`` nothing is downloaded and a missing snapshot is an error that says how to fetch it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model as st_load_model
from safetensors.torch import save_model as st_save_model

from emozoo.errors import WeightsError
from emozoo.taxonomy import NAMES, TAXONOMY_VERSION

__all__ = ["load_model", "resolve_model_dir", "save_pretrained"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def _card(config: dict[str, Any], report: dict[str, Any] | None, experiment: str | None) -> str:
    lines = [
        f"# emozoo model: {config['model'].get('backbone')} + {config['model'].get('head')}",
        "",
        "Fine-grained facial emotion recognition on the 40 EmoNet-Face emotions (arXiv 2505.20033).",
        "",
        "```python",
        "import emozoo",
        "model = emozoo.load_model('PATH_OR_hf-hub:ORG/NAME')",
        "```",
        "",
    ]
    if experiment:
        lines += [f"Trained with experiment `{experiment}`.", ""]
    if report:
        m, r, h = report.get("model", {}), report.get("random", {}), report.get("raters", {})
        lines += [
            "## Agreement with human ratings (test split)",
            "",
            "| metric | value |",
            "|---|---|",
            f"| mean Spearman rho vs rater median | {m.get('mean_spearman', float('nan')):.4f} |",
            f"| random baseline | {r.get('mean_spearman', float('nan')):.4f} |",
            f"| raters' leave-one-out mean rho | {h.get('loo_mean_spearman', float('nan')):.4f} |",
            "",
        ]
    return "\n".join(lines)


def save_pretrained(model, directory: str | Path, report: dict[str, Any] | None = None, experiment: str | None = None):
    """Write a model directory that ``load_model`` restores exactly."""
    from emozoo import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "emozoo_version": __version__,
        "taxonomy_version": TAXONOMY_VERSION,
        "emotions": list(NAMES),
        "model": model.config,
        "preprocessing": model.data_config.to_dict() if model.data_config is not None else None,
    }
    if report is not None:
        config["metrics"] = {
            "mean_spearman": report["model"]["mean_spearman"],
            "random_mean_spearman": report["random"]["mean_spearman"],
            "raters_loo_mean_spearman": report["raters"]["loo_mean_spearman"],
        }
    tmp = directory / f".{WEIGHTS_NAME}.tmp"
    st_save_model(model, str(tmp))
    tmp.replace(directory / WEIGHTS_NAME)
    (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2))
    (directory / "README.md").write_text(_card(config, report, experiment))
    return directory


def resolve_model_dir(path_or_id: str | Path) -> Path:
    """A local directory for ``path_or_id``: a directory, or ``hf-hub:org/name[@revision]`` from the HF cache."""
    text = str(path_or_id)
    if text.startswith("hf-hub:"):
        repo_id, _, revision = text.removeprefix("hf-hub:").partition("@")
        from huggingface_hub import snapshot_download
        from huggingface_hub.constants import HF_HUB_CACHE, HF_HUB_OFFLINE

        try:
            return Path(snapshot_download(repo_id, revision=revision or None, local_files_only=HF_HUB_OFFLINE))
        except Exception as err:
            raise WeightsError(
                f"{text}: not found in the Hugging Face cache {HF_HUB_CACHE} ({type(err).__name__}). "
                f"On a connected machine run `hf download {repo_id}` (or `huggingface-cli download {repo_id}`), "
                f"then copy the cache or set HF_HUB_CACHE."
            ) from None
    path = Path(text)
    if not path.is_dir():
        raise WeightsError(f"model directory not found: {path} (expected {CONFIG_NAME} and {WEIGHTS_NAME} inside)")
    return path


def load_model(path_or_id: str | Path, map_location: str | torch.device = "cpu"):
    """Restore a model written by ``save_pretrained``.

    Raises:
        WeightsError: missing files, or weights that do not match the config (names the keys).
    """
    from emozoo.model import create_model

    directory = resolve_model_dir(path_or_id)
    cfg_path, weights = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    for f in (cfg_path, weights):
        if not f.is_file():
            raise WeightsError(f"{f} is missing; a model directory holds {CONFIG_NAME} and {WEIGHTS_NAME}")
    config = json.loads(cfg_path.read_text())
    mc = dict(config["model"])
    model = create_model(
        mc.get("backbone"),
        mc.get("head", "mlp"),
        impl=mc.get("impl"),
        num_emotions=mc.get("num_emotions", len(NAMES)),
        embed_dim=mc.get("embed_dim"),
        backbone_args=mc.get("backbone_args"),
        head_args=mc.get("head_args"),
    )
    missing, unexpected = st_load_model(model, str(weights), strict=False, device=str(map_location))
    if missing or unexpected:
        raise WeightsError(
            f"{weights} does not match {mc.get('backbone')}+{mc.get('head')}: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    return model.eval()
