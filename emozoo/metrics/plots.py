"""The two figures of an agreement report, drawn off-screen with matplotlib's Agg canvas.

``matplotlib.figure.Figure`` is used directly rather than ``pyplot``: no global backend is switched and no
figure is left open, so this is safe inside training jobs and tests.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["plot_alpha_kappa", "plot_confusion", "plot_kappa_boxes", "plot_spearman_bars", "plot_vote_splits"]


def _values(d: dict[str, float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in d.values()], dtype=np.float64)


def plot_spearman_bars(report: dict[str, Any], path: Path) -> Path:
    """Per-emotion ρ: model vs random baseline vs rater leave-one-out, one group of bars per emotion."""
    emotions = report["meta"]["emotions"]
    series = [
        (report["meta"]["model_name"], _values(report["model"]["per_emotion_spearman"]), "tab:blue"),
        ("random", _values(report["random"]["per_emotion_spearman"]), "tab:gray"),
        ("raters (leave-one-out)", _values(report["raters"]["loo_per_emotion"]), "tab:orange"),
    ]
    x = np.arange(len(emotions))
    width = 0.8 / len(series)
    fig = Figure(figsize=(max(8.0, 0.35 * len(emotions)), 4.5), layout="constrained")
    ax = fig.add_subplot()
    for k, (label, vals, color) in enumerate(series):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, np.nan_to_num(vals), width, label=label, color=color)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(x, emotions, rotation=75, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(emotions) - 0.4)
    ax.set_ylabel("Spearman ρ vs median rater")
    # Title and legend each get their own row above the axes (constrained layout reserves the space of an
    # "outside" figure legend), so neither overlaps the other or a bar, whatever the width or the model's name.
    ax.set_title("Per-emotion Spearman ρ (undefined emotions drawn at 0)", loc="left")
    legend = fig.legend(loc="outside upper left", ncols=len(series), fontsize=8, frameon=False)
    if legend.get_window_extent(FigureCanvasAgg(fig).get_renderer()).width > fig.bbox.width:  # a long model name
        legend.remove()
        fig.legend(loc="outside upper left", ncols=1, fontsize=8, frameon=False)
    fig.savefig(path, dpi=120)
    return path


def plot_kappa_boxes(report: dict[str, Any], path: Path) -> Path:
    """Box plots of the κ units (one per pair and emotion) by group: human–human, model–human, random–human."""
    kappa = report["kappa"]
    groups = [
        ("human–human", kappa["human_human"]),
        (f"{report['meta']['model_name']}–human", kappa["model_human"]),
        ("random–human", kappa["random_human"]),
    ]
    labels, data = [], []
    for label, group in groups:
        vals = np.array([v for per_e in group["units"].values() for v in per_e.values() if v is not None], float)
        # wrapped to the width of one box (~2 in), so a long model name cannot run into its neighbours' labels
        labels.append(textwrap.fill(label, width=22) + f"\n(n={int(np.sum(~np.isnan(vals)))})")
        data.append(vals[~np.isnan(vals)])
    fig = Figure(figsize=(6.0, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.boxplot(data, tick_labels=labels, showmeans=True)
    rng = np.random.default_rng(0)  # jitter only, so the points of small groups stay visible
    for k, vals in enumerate(data, start=1):
        ax.scatter(k + rng.uniform(-0.08, 0.08, vals.size), vals, s=6, alpha=0.3, color="black")
    mw = kappa["mann_whitney"]
    if mw["p_value"] is not None:
        ax.set_title(f"Quadratic κ by annotator group (Mann–Whitney p = {mw['p_value']:.3g})")
    else:
        ax.set_title("Quadratic κ by annotator group")
    ax.set_ylabel("Cohen's κ per (pair, emotion) (quadratic, truncated)")
    fig.savefig(path, dpi=120)
    return path


# the authors' colours and hatches (statistics/analysis-binary.ipynb), plus one for the unanimous "no" votes
_VOTES = (
    ("unanimous_yes", "unanimous yes (3:0 / 2:0)", "#8fd19e", "/"),
    ("unanimous_no", "unanimous no (0:3 / 0:2)", "#a6c8f4", "\\"),
    ("split_2_1", "2:1 split", "#ffe08c", "."),
    ("split_1_1", "1–1 split", "#f4a6a6", "x"),
)


def plot_vote_splits(votes: dict[str, Any], path: Path, title: str = "") -> Path:
    """Per emotion, 100% stacked bars of the vote splits of units rated 2 and 3 times, least unanimous first.

    As ``analysis-binary.ipynb`` draws it, with each bar's unit count and its shares rated 2 and 3 times.
    """
    rows = sorted(votes["per_emotion"].items(), key=lambda kv: (kv[1]["unanimous"], kv[0]))
    names = [e for e, _ in rows]
    fig = Figure(figsize=(10.0, max(4.0, 0.22 * len(rows) + 1.5)), layout="constrained")
    ax = fig.add_subplot()
    left = np.zeros(len(rows))
    for key, label, color, hatch in _VOTES:
        share = np.array([v[key] for _, v in rows])
        ax.barh(names, share, left=left, color=color, hatch=hatch, edgecolor="black", linewidth=0.4, label=label)
        left += share
    for i, (_, v) in enumerate(rows):
        note = f"n={v['n']} | 2r: {100 * v['rated_2']:.0f}% | 3r: {100 * v['rated_3']:.0f}%"
        ax.text(1.01, i, note, va="center", ha="left", fontsize=7, transform=ax.get_yaxis_transform())
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("share of units (image, emotion) rated more than once")
    ax.set_title(title or f"Vote splits per emotion ({votes['n_units']} units rated 2 or 3 times)", loc="left")
    fig.legend(loc="outside lower center", ncols=len(_VOTES), fontsize=8, frameon=False)
    fig.savefig(path, dpi=100)
    return path


def plot_alpha_kappa(result: dict[str, Any], path: Path) -> Path:
    """Per emotion, Krippendorff's α and the mean pairwise κ of an annotation table (``emozoo agreement``)."""
    per = result["per_emotion"]
    names = sorted(per, key=lambda e: (-9.0 if per[e]["kappa"] is None else per[e]["kappa"], e))
    y = np.arange(len(names))
    fig = Figure(figsize=(7.0, max(4.0, 0.22 * len(names) + 1.5)), layout="constrained")
    ax = fig.add_subplot()
    for k, (key, label, color) in enumerate(
        (("alpha", "α", "tab:blue"), ("kappa", "κ (mean over pairs)", "tab:orange"))
    ):
        vals = np.array([np.nan if per[e][key] is None else per[e][key] for e in names])
        ax.barh(y + (k - 0.5) * 0.4, np.nan_to_num(vals), 0.4, color=color, label=label)
    ax.axvline(0.0, color="black", linewidth=0.6)
    ax.set_yticks(y, names, fontsize=7)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlabel(f"agreement ({result['level']} α; quadratic κ)")
    ax.set_title("Agreement per emotion (undefined drawn at 0)", loc="left")
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    fig.savefig(path, dpi=100)
    return path


def plot_confusion(confusion: np.ndarray, classes: list[str], path: Path, title: str = "") -> Path:
    """A confusion matrix, rows (true class) normalised to shares, each cell labelled with its count."""
    counts = np.asarray(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(counts / counts.sum(1, keepdims=True))
    size = max(4.5, 0.6 * len(classes) + 2.0)
    fig = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(len(classes)):
        for j in range(len(classes)):
            color = "white" if share[i, j] > 0.6 else "black"
            ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("class of the top mapped head")
    ax.set_ylabel("true class")
    ax.set_title(title, loc="left", fontsize=9)
    fig.colorbar(im, ax=ax, label="share of the true class")
    fig.savefig(path, dpi=100)
    return path
