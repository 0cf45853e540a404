"""Comparing backbones: the same recipe once per backbone, then one leaderboard of the agreement metrics.

This is the core job of emozoo's users, so the leaderboard is written three ways: ``leaderboard.json``,
``leaderboard.md`` (a table) and ``leaderboard.png`` (mean ρ with bootstrap CIs, against the raters and the random
baseline). Locally the backbones run one after another (``compare_backbones``); on a cluster each is a task of one
job array (``emozoo.slurm.array``). Both build their rows with ``summary_row``/``failed_row`` and write them with
``write_leaderboard``, so the two leaderboards are the same format. A backbone that did not finish has a row
with its ``status`` (``failed`` or ``missing``), its log and its error: it is never silently left out.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from emozoo.config import ExperimentConfig, load_config

__all__ = [
    "backbone_configs",
    "backbone_overrides",
    "compare_backbones",
    "failed_row",
    "leaderboard_markdown",
    "summary_row",
    "write_leaderboard",
]

COLUMNS = [
    ("backbone", "backbone", "{}"),
    ("mean_spearman", "mean ρ", "{:.4f}"),
    ("spearman_ci", "95% CI", "[{0[0]:.3f}, {0[1]:.3f}]"),
    ("kappa_model_human", "κ model–human", "{:.4f}"),
    ("raters_loo_mean_spearman", "ρ raters LOO", "{:.4f}"),
    ("random_mean_spearman", "ρ random", "{:.4f}"),
    ("alpha_humans", "α humans", "{:.4f}"),
    ("images_per_second", "train img/s", "{:.1f}"),
    ("seconds", "wall s", "{:.0f}"),
]
# The summary keys a leaderboard row carries over from ``run_experiment``.
SUMMARY_KEYS = [k for k, _, _ in COLUMNS[1:-2]] + ["kappa_human_human", "seconds", "report", "run_dir", "model_dir"]
LEADERBOARD_FILES = ("leaderboard.json", "leaderboard.md", "leaderboard.png")


def backbone_overrides(backbone: str, base_name: str) -> list[str]:
    """The overrides that turn the compared recipe into one backbone's run (its own run and checkpoint folders)."""
    return [f"backbone={backbone}", f"name={base_name}-{backbone}"]


def backbone_configs(
    backbones: list[str], experiment: str | None, overrides: list[str], extra: list[str] | None = None
) -> dict[str, ExperimentConfig]:
    """Every backbone's config, all validated before anything runs, so a typo in the last name fails at once."""
    from emozoo.backbones import BACKBONES

    if not backbones:
        raise ValueError("no backbones to compare; give names like cnn-tiny,vit-tiny (see `emozoo zoo backbones`)")
    if len(set(backbones)) != len(backbones):
        raise ValueError(f"--backbones names a backbone twice: {','.join(backbones)}")
    base = load_config(experiment, overrides)
    configs = {
        b: load_config(experiment, [*overrides, *backbone_overrides(b, base.name), *(extra or [])]) for b in backbones
    }
    for cfg in configs.values():
        BACKBONES.get(cfg.backbone.name)  # an unknown name fails here, with the closest matches
    return configs


def summary_row(backbone: str, summary: dict[str, Any]) -> dict[str, Any]:
    """A finished backbone's leaderboard row, from ``run_experiment``'s summary."""
    tput = [v for v in (summary.get("train_images_per_second") or {}).values() if v]
    row = {"backbone": backbone, "status": "finished"}
    row.update({k: summary.get(k) for k in SUMMARY_KEYS})
    row["images_per_second"] = tput[0] if tput else None
    return row


def failed_row(backbone: str, status: str, log: str | None, error: str | None) -> dict[str, Any]:
    """The row of a backbone without results: ``status`` is ``failed`` (it raised) or ``missing`` (no result)."""
    return {"backbone": backbone, "status": status, "log": log, "error": error}


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, list) and None in value):
        return "–"
    return fmt.format(value)


def leaderboard_markdown(rows: list[dict[str, Any]]) -> str:
    """The table of finished backbones, then one line per backbone that failed or is missing."""
    done = [r for r in rows if r.get("status", "finished") == "finished"]
    head = "| " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    sep = "|" + "|".join("---" if k == "backbone" else "---:" for k, _, _ in COLUMNS) + "|"
    body = ["| " + " | ".join(_cell(r.get(k), f) for k, _, f in COLUMNS) + " |" for r in done]
    bad = [
        f"- **{r['backbone']}**: {r['status']}"
        + (f", log `{r['log']}`" if r.get("log") else "")
        + (f": {r['error']}" if r.get("error") else "")
        for r in rows
        if r not in done
    ]
    return "\n".join([head, sep, *body, *([""] + bad if bad else [])]) + "\n"


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.figure import Figure

    done = [r for r in rows if r.get("status", "finished") == "finished"]
    fig = Figure(figsize=(max(4.0, 1.2 * len(rows) + 2), 3.6))
    ax = fig.subplots()
    means = [r.get("mean_spearman") or 0.0 for r in done]
    ci = [r.get("spearman_ci") or [None, None] for r in done]
    lo = [m - (c[0] if c[0] is not None else m) for m, c in zip(means, ci)]
    hi = [(c[1] if c[1] is not None else m) - m for m, c in zip(means, ci)]
    ax.bar([r["backbone"] for r in done], means, yerr=[lo, hi], capsize=4, color="#3b75af", label="model (95% CI)")
    for r in rows:
        if r not in done:  # an empty, labelled slot: a failed backbone stays visible in the plot too
            ax.bar([f"{r['backbone']}\n({r['status']})"], [0.0], color="#c44e52")
    loo = [r.get("raters_loo_mean_spearman") for r in done if r.get("raters_loo_mean_spearman") is not None]
    if loo:
        ax.axhline(loo[0], color="#e1812c", ls="--", label="raters (leave-one-out)")
    rnd = [r.get("random_mean_spearman") for r in done if r.get("random_mean_spearman") is not None]
    if rnd:
        ax.axhline(rnd[0], color="grey", ls=":", label="random")
    ax.set_ylabel("mean Spearman ρ vs rater median")
    ax.set_title("Backbone comparison")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_leaderboard(rows: list[dict[str, Any]], out_dir: str | Path) -> list[str]:
    """Sort (finished by mean ρ, then the rest) and write the JSON, Markdown and PNG; returns their paths."""
    rows.sort(key=lambda r: (r.get("status", "finished") != "finished", -(r.get("mean_spearman") or float("-inf"))))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.json").write_text(json.dumps(rows, indent=2))
    (out / "leaderboard.md").write_text(leaderboard_markdown(rows))
    _plot(rows, out / "leaderboard.png")
    return [str(out / n) for n in LEADERBOARD_FILES]


def compare_backbones(
    backbones: list[str], experiment: str | None, overrides: list[str], out_dir: str | Path | None = None
) -> dict[str, Any]:
    """Run ``experiment`` once per backbone, here, one after another, and write the leaderboard.

    Returns:
        ``{"rows": [...], "files": [json, md, png]}``.
    """
    from emozoo.recipes import run_experiment

    configs = backbone_configs(backbones, experiment, overrides)
    rows = []
    for b, cfg in configs.items():
        print(f"[emozoo] compare: {b} ({len(rows) + 1}/{len(backbones)})")
        rows.append(summary_row(b, run_experiment(cfg)))
    base = load_config(experiment, overrides)
    out = Path(out_dir or Path(base.run_dir) / "compare" / time.strftime("%Y%m%d-%H%M%S"))
    return {"rows": rows, "files": write_leaderboard(rows, out)}
