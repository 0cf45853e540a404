"""Comparing backbones: the same recipe once per backbone, then one leaderboard of the agreement metrics.

This is the core job of emozoo's users, so the leaderboard is written three ways: ``leaderboard.json``,
``leaderboard.md`` (a table) and ``leaderboard.png`` (mean ρ with bootstrap CIs, against the raters and the random
baseline).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from emozoo.config import load_config

__all__ = ["compare_backbones", "leaderboard_markdown"]

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


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, list) and None in value):
        return "–"
    return fmt.format(value)


def leaderboard_markdown(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    sep = "|" + "|".join("---" if k == "backbone" else "---:" for k, _, _ in COLUMNS) + "|"
    body = ["| " + " | ".join(_cell(r.get(k), f) for k, _, f in COLUMNS) + " |" for r in rows]
    return "\n".join([head, sep, *body]) + "\n"


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, 1.2 * len(rows) + 2), 3.6))
    ax = fig.subplots()
    names = [r["backbone"] for r in rows]
    means = [r.get("mean_spearman") or 0.0 for r in rows]
    lo = [
        m - (r["spearman_ci"][0] if r.get("spearman_ci") and r["spearman_ci"][0] is not None else m)
        for m, r in zip(means, rows)
    ]
    hi = [
        (r["spearman_ci"][1] if r.get("spearman_ci") and r["spearman_ci"][1] is not None else m) - m
        for m, r in zip(means, rows)
    ]
    ax.bar(names, means, yerr=[lo, hi], capsize=4, color="#3b75af", label="model (95% CI)")
    loo = [r.get("raters_loo_mean_spearman") for r in rows if r.get("raters_loo_mean_spearman") is not None]
    if loo:
        ax.axhline(loo[0], color="#e1812c", ls="--", label="raters (leave-one-out)")
    rnd = [r.get("random_mean_spearman") for r in rows if r.get("random_mean_spearman") is not None]
    if rnd:
        ax.axhline(rnd[0], color="grey", ls=":", label="random")
    ax.set_ylabel("mean Spearman ρ vs rater median")
    ax.set_title("Backbone comparison")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def compare_backbones(
    backbones: list[str], experiment: str | None, overrides: list[str], out_dir: str | Path | None = None
) -> dict[str, Any]:
    """Run ``experiment`` once per backbone and write the leaderboard; returns ``{"rows", "files"}``.

    All configs are validated before the first run starts, so a typo in the last backbone name fails at once.
    """
    from emozoo.recipes import run_experiment

    base = load_config(experiment, overrides)
    configs = {b: load_config(experiment, [*overrides, f"backbone={b}", f"name={base.name}-{b}"]) for b in backbones}
    from emozoo.backbones import BACKBONES

    for b in backbones:
        BACKBONES.get(configs[b].backbone.name)  # an unknown name fails here, with the closest matches
    rows = []
    for b, cfg in configs.items():
        print(f"[emozoo] compare: {b} ({len(rows) + 1}/{len(backbones)})")
        summary = run_experiment(cfg)
        tput = [v for v in summary.get("train_images_per_second", {}).values() if v]
        rows.append({"backbone": b, **summary, "images_per_second": tput[0] if tput else None})
    rows.sort(key=lambda r: -(r.get("mean_spearman") or float("-inf")))
    out = Path(out_dir or Path(base.run_dir) / "compare" / time.strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.json").write_text(json.dumps(rows, indent=2))
    (out / "leaderboard.md").write_text(leaderboard_markdown(rows))
    _plot(rows, out / "leaderboard.png")
    return {"rows": rows, "files": [str(out / n) for n in ("leaderboard.json", "leaderboard.md", "leaderboard.png")]}
