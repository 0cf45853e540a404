"""Writing an agreement report to disk: ``report.json``, a Markdown table and the two PNG figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emozoo.metrics.agreement import verdict_sentence
from emozoo.metrics.plots import plot_kappa_boxes, plot_spearman_bars

__all__ = ["render_markdown", "write_report"]


def _fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _ci(ci: list[float | None]) -> str:
    return "–" if ci[0] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def render_markdown(report: dict[str, Any]) -> str:
    """A per-emotion table (ρ model/random/LOO, κ, α) followed by the summary lines."""
    meta, model, random, raters = report["meta"], report["model"], report["random"], report["raters"]
    kappa, alpha = report["kappa"], report["alpha"]
    name = meta["model_name"]
    lines = [
        f"# Agreement report: {name}",
        "",
        f"{meta['n_images']} images, {meta['n_raters']} raters, {len(meta['emotions'])} emotions. "
        f"ρ against the per-image median rating; κ quadratic on truncated 0..7 labels; α interval (humans).",
        "",
        f"| emotion | images | ρ {name} | ρ random | ρ rater LOO | κ {name}–human | κ human–human | α |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in meta["emotions"]:
        cells = [
            e,
            str(meta["rated_images_per_emotion"][e]),
            _fmt(model["per_emotion_spearman"][e]),
            _fmt(random["per_emotion_spearman"][e]),
            _fmt(raters["loo_per_emotion"][e]),
            _fmt(kappa["model_human"]["per_emotion"][e]),
            _fmt(kappa["human_human"]["per_emotion"][e]),
            _fmt(alpha["per_emotion"][e]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    mw = kappa["mann_whitney"]
    level = int(round(100 * meta["ci_level"]))
    lines += [
        "",
        "## Summary",
        "",
        f"- Mean ρ, {name}: {_fmt(model['mean_spearman'])} ({level}% CI {_ci(model['spearman_ci'])}, "
        f"{meta['n_bootstrap']} bootstrap resamples)",
        f"- Mean ρ, random baseline: {_fmt(random['mean_spearman'])} ({level}% CI {_ci(random['spearman_ci'])})",
        f"- Mean ρ, raters leave-one-out: {_fmt(raters['loo_mean_spearman'])}",
        f"- Mean κ over (pair, emotion) units: {name}–human {_fmt(kappa['model_human']['mean'])}, human–human "
        f"{_fmt(kappa['human_human']['mean'])}, random–human {_fmt(kappa['random_human']['mean'])}",
        f"- Verdict: {verdict_sentence(mw, name)}.",
        f"- Mann–Whitney U, two-sided, on {mw['n_model']} {name}–human vs {mw['n_human']} human–human κ values, "
        f"one per (rater pair, emotion) as in the authors' analysis-hq.ipynb: U = {_fmt(mw['statistic'], 1)}, "
        f"p = {_fmt(mw['p_value'], 4)}",
        f"- Mean Krippendorff's α (interval, humans): {_fmt(alpha['mean'])}",
    ]
    excluded = sorted(set(model["excluded_emotions"]) | set(alpha["excluded_emotions"]))
    if excluded:
        lines.append(f"- Undefined (NaN, left out of the means) for some metrics: {', '.join(excluded)}")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Write the four report files into ``out_dir`` (created if needed) and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "json": out_dir / "report.json",
        "markdown": out_dir / "report.md",
        "spearman_png": out_dir / "spearman_per_emotion.png",
        "kappa_png": out_dir / "kappa_by_group.png",
    }
    paths = {k: str(v) for k, v in files.items()}
    files["json"].write_text(json.dumps({**report, "files": paths}, indent=2, allow_nan=False) + "\n")
    files["markdown"].write_text(render_markdown(report))
    plot_spearman_bars(report, files["spearman_png"])
    plot_kappa_boxes(report, files["kappa_png"])
    return paths
