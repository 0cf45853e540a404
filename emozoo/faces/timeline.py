"""Per-track emotion timelines for a video: how the strongest emotions of each face rise and fall."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["plot_timeline"]


def plot_timeline(records: Iterable[Mapping], out_path: str | Path, *, top: int = 3, title: str | None = None) -> Path:
    """Draw one panel per face track: the intensity over time of that track's ``top`` emotions.

    Args:
        records: per-face records with ``time`` (s), ``track`` (int) and ``intensity`` (emotion name -> value);
            records without a track (``faces: 0`` frames) are skipped.
        out_path: the image to write (``.png``, ``.svg``, ``.pdf``); parent folders are created.
        top: emotions per track, ranked by their mean intensity over that track.
        title: figure title (e.g. the video's name).

    Returns:
        ``out_path`` as a Path.
    """
    import matplotlib

    matplotlib.use("Agg")  # headless: a plot is a file, never a window
    import matplotlib.pyplot as plt

    tracks: dict[int, list[Mapping]] = defaultdict(list)
    for r in records:
        if r.get("track") is not None and r.get("intensity"):
            tracks[int(r["track"])].append(r)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    n = max(1, len(tracks))
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.4 * n + 0.6), sharex=True, squeeze=False)
    for ax, (track, rows) in zip(axes[:, 0], sorted(tracks.items())):
        rows = sorted(rows, key=lambda r: r["time"])
        names = list(rows[0]["intensity"])
        means = {k: sum(r["intensity"].get(k, 0.0) for r in rows) / len(rows) for k in names}
        for name in sorted(names, key=lambda k: -means[k])[:top]:
            ax.plot([r["time"] for r in rows], [r["intensity"].get(name, float("nan")) for r in rows],
                    marker="o", markersize=3, label=name)  # fmt: skip
        ax.set_ylabel(f"face {track}")
        ax.legend(loc="upper right", fontsize=8, frameon=False)
        ax.grid(alpha=0.3)
    if not tracks:
        axes[0, 0].text(0.5, 0.5, "no faces found", ha="center", va="center", transform=axes[0, 0].transAxes)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path
