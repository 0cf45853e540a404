"""Writing agreement reports to disk: a model's (``report.json``, Markdown, two PNGs) and a table's alone
(``emozoo agreement --out``: ``agreement.json``, Markdown, the α/κ and vote-split PNGs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emozoo.metrics.plots import plot_alpha_kappa, plot_kappa_boxes, plot_spearman_bars, plot_vote_splits
from emozoo.metrics.verdict import verdict_sentence

__all__ = ["render_interrater_markdown", "render_markdown", "write_interrater_report", "write_report"]


def _fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _ci(ci: list[float | None]) -> str:
    return "–" if ci[0] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _table_range(table: dict[str, float | None]) -> str:
    vals = [v for k, v in table.items() if k != "model" and v is not None]
    return "–" if not vals else f"{min(vals):.3f} to {max(vals):.3f}"


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
        f"- Agreement table (mean over emotions of the mean κ with the human raters): {name} "
        f"{_fmt(kappa['annotator_table']['model'])}; raters {_table_range(kappa['annotator_table'])}",
        f"- Mann–Whitney U, two-sided, on {mw['n_model']} {name}–human vs {mw['n_human']} human–human κ values, "
        f"one per (rater pair, emotion) as in the authors' analysis-hq.ipynb: U = {_fmt(mw['statistic'], 1)}, "
        f"p = {'–' if mw['p_value'] is None else format(mw['p_value'], '.4g')}",
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


def render_interrater_markdown(result: dict[str, Any]) -> str:
    """The Markdown report of ``emozoo agreement``: per-emotion α, κ and vote splits, then the overall lines."""
    ov, votes = result["overall"], result.get("votes", {}).get("per_emotion", {})
    lines = [
        f"# Inter-annotator agreement: {result.get('file', 'ratings')}",
        "",
        f"{result['n_ratings']} ratings of {result['n_images']} images by {result['n_raters']} raters. "
        f"α {result['level']}; κ quadratic on {result['kappa']['num_classes']} truncated labels, one κ unit per "
        f"{result['kappa']['unit']}, as in the authors' analysis-hq.ipynb.",
        "",
        "| emotion | units rated ≥ 2 | α | κ | κ units |" + (" unanimous | 2:1 | 1–1 |" if votes else ""),
        "|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if votes else ""),
    ]
    for e, v in result["per_emotion"].items():
        cells = [e, str(v["items"]), _fmt(v["alpha"]), _fmt(v["kappa"]), str(v["pairs"])]
        if votes:
            s = votes.get(e)
            cells += ["–"] * 3 if s is None else [f"{100 * s[k]:.1f}%" for k in ("unanimous", "split_2_1", "split_1_1")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Overall",
        "",
        f"- κ, mean over {ov['kappa_units']} (rater pair, emotion) units (the authors' aggregation): "
        f"{_fmt(ov['kappa_mean'], 4)}",
        f"- κ pooled per rater pair over all emotions, mean over pairs (not the authors'): "
        f"{_fmt(ov['kappa_pooled_pair_mean'], 4)}",
        f"- α ({result['level']}): mean over emotions {_fmt(ov['alpha_mean'], 4)}, "
        f"pooled {_fmt(ov['alpha_pooled'], 4)}",
    ]
    if votes:
        lines.append(f"- Units (image, emotion) rated more than once: {result['votes']['n_units']}")
    if result.get("per_rater"):
        lines += ["", "## Per rater (mean κ with the other raters per emotion, then over emotions)", ""]
        lines += ["| rater | κ | κ units |", "|---|---:|---:|"]
        ranked = sorted(result["per_rater"].items(), key=lambda kv: -9.0 if kv[1]["kappa"] is None else -kv[1]["kappa"])
        lines += [f"| {r} | {_fmt(v['kappa'], 4)} | {v['units']} |" for r, v in ranked[:50]]
    return "\n".join(lines) + "\n"


def write_interrater_report(result: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """``agreement.json``, ``agreement.md``, ``alpha_kappa_per_emotion.png`` and, for yes/no tables,
    ``vote_splits.png`` in ``out_dir`` (created if needed); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "json": out_dir / "agreement.json",
        "markdown": out_dir / "agreement.md",
        "alpha_kappa_png": out_dir / "alpha_kappa_per_emotion.png",
    }
    if result.get("votes"):
        files["votes_png"] = out_dir / "vote_splits.png"
    paths = {k: str(v) for k, v in files.items()}
    files["json"].write_text(json.dumps({**result, "files": paths}, indent=2, allow_nan=False) + "\n")
    files["markdown"].write_text(render_interrater_markdown(result))
    plot_alpha_kappa(result, files["alpha_kappa_png"])
    if "votes_png" in files:
        plot_vote_splits(result["votes"], files["votes_png"])
    return paths
