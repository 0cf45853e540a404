"""What ``emozoo predict`` writes: one record per face (JSONL or CSV) and optional bar-chart PNGs.

The records are ``FacePrediction.to_dict()`` (``emozoo.inference.records``): where the face is, then the 40
intensities, the distribution, the top-k and any extra dimensions.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import IO, Any

from emozoo.output_safety import dumps_jsonl, escape_csv_row
from emozoo.taxonomy import NAMES

__all__ = ["PredictionWriter", "plot_prediction"]

LOCATION_COLUMNS = (
    "time",
    "frame",
    "track",
    "face",
    "box_x0",
    "box_y0",
    "box_x1",
    "box_y1",
    "detector_score",
    "landmarks",
)


class PredictionWriter:
    """Streams records to ``path`` (``.jsonl`` or ``.csv``; ``-`` or None: JSONL on stdout).

    CSV columns: ``image``, ``face``, ``box_x0``, ``box_y0``, ``box_x1``, ``box_y1``, ``detector_score``,
    ``landmarks`` (JSON), ``top1..topK``, ``intensity:<emotion>`` x40, ``distribution:<emotion>`` x40 and
    ``extra:<name>`` where present. A record without a face (``faces: 0``) leaves all but ``image`` empty.
    """

    def __init__(self, path: str | Path | None, top_k: int):
        self.path = None if path in (None, "-") else Path(path)
        self.fmt = "csv" if self.path is not None and self.path.suffix.lower() == ".csv" else "jsonl"
        self.top_k = top_k
        self._file: IO[str] | None = None
        self._csv: csv.writer | None = None
        self.count = 0

    def __enter__(self) -> PredictionWriter:
        if self.path is None:
            self._file = sys.stdout
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", newline="" if self.fmt == "csv" else None)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._file is not None and self._file is not sys.stdout:
            self._file.close()
        self._file = None

    def write(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            if self.fmt == "jsonl":
                self._file.write(dumps_jsonl(rec) + "\n")
            else:
                self._write_csv(rec)
            self.count += 1

    def _writerow(self, row: list[Any]) -> None:
        # A cell that starts like a formula would run in a spreadsheet: escaped (emozoo.output_safety).
        self._csv.writerow(escape_csv_row(row))

    def _write_csv(self, rec: dict[str, Any]) -> None:
        extra = list(rec.get("extra", {}))
        if self._csv is None:
            self._csv = csv.writer(self._file)
            self._writerow(
                [
                    "image",
                    *LOCATION_COLUMNS,
                    *[f"top{i + 1}" for i in range(self.top_k)],
                    *[f"intensity:{n}" for n in NAMES],
                    *[f"distribution:{n}" for n in NAMES],
                    *[f"extra:{e}" for e in extra],
                ]
            )
        where = [rec.get(k, "") for k in ("time", "frame", "track")]  # empty for still images
        if "face" not in rec:  # no face in this image (or video frame)
            self._writerow([rec["image"], *where])
            return
        tops = [t["emotion"] for t in rec["top_k"]] + [""] * (self.top_k - len(rec["top_k"]))
        landmarks = "" if rec["landmarks"] is None else json.dumps(rec["landmarks"])
        score = "" if rec["detector_score"] is None else rec["detector_score"]
        self._writerow(
            [
                rec["image"],
                *where,
                rec["face"],
                *rec["box"],
                score,
                landmarks,
                *tops,
                *[rec["intensity"][n] for n in NAMES],
                *[rec["distribution"][n] for n in NAMES],
                *[rec["extra"][e] for e in extra],
            ]
        )


def plot_name(key: str) -> str:
    """A file name for an image's plot: its stem (made safe) plus a short hash of the full key (unique)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(key.split(":")[-1]).stem)[:60] or "image"
    return f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:8]}.png"


def plot_prediction(record: dict[str, Any], directory: str | Path) -> Path:
    """A PNG bar chart of the 40 intensities (top-k highlighted) and the distribution; returns its path."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    top = {t["emotion"] for t in record["top_k"]}
    colors = ["tab:red" if n in top else "tab:blue" for n in NAMES]
    fig = Figure(figsize=(9, 8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    ys = range(len(NAMES))
    ax1.barh(ys, [record["intensity"][n] for n in NAMES], color=colors)
    ax1.set_xlim(0, 7)
    ax1.set_xlabel("intensity (0-7)")
    ax1.set_yticks(list(ys), NAMES, fontsize=7)
    ax1.invert_yaxis()
    ax2.barh(ys, [record["distribution"][n] for n in NAMES], color=colors)
    ax2.set_xlabel("distribution")
    face = f" face {record['face']}" if record.get("face") else ""  # the first face keeps the image's own name
    fig.suptitle(Path(record["image"]).name + face, fontsize=9)
    path = directory / plot_name(record["image"] + face)
    fig.savefig(path, dpi=72)
    return path
