"""Inputs and outputs of the basic-emotion evaluation (``emozoo.emonet.basic``).

Predictions come as JSONL, one record per image, in either of two forms:

- the authors' (``ferd.jsonl``): ``image_path`` and ``results`` {``model_<slug>_best``: {``mean_subtracted``: x}};
- ``emozoo predict`` output: ``image`` and ``distribution`` {emotion: p}; the score is log p (see ``basic``).
  Basic label sets label one face per image, so a record of a second or later detected face (``face`` > 0) is
  left out.

The true label of a record is, in order: ``labels[key]`` when a label table is given (e.g. read from a shard set
with :func:`shard_labels`), the record's ``label`` field, else the authors' FERD rule on its file name.
"""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from emozoo.emonet.basic import BasicMapping, head_index, label_from_path
from emozoo.errors import DataError
from emozoo.taxonomy import NUM_EMOTIONS, emotion_index

__all__ = ["read_predictions", "render_basic_markdown", "shard_labels", "write_basic_report"]


def _scores(rec: dict, where: str) -> np.ndarray:
    out = np.full(NUM_EMOTIONS, np.nan)
    if isinstance(rec.get("results"), dict):
        for key, head in rec["results"].items():
            try:
                i = head_index(key)
            except KeyError:
                continue  # the extra heads (valence, arousal, ...) are not among the 40
            value = head.get("mean_subtracted") if isinstance(head, dict) else None
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise DataError(f"{where}: results[{key!r}].mean_subtracted is not a finite number")
            out[i] = value
    elif isinstance(rec.get("distribution"), dict):
        for key, p in rec["distribution"].items():
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
                raise DataError(f"{where}: distribution[{key!r}] is not a probability")
            try:
                out[emotion_index(key)] = math.log(p) if p > 0 else -math.inf
            except KeyError as err:
                raise DataError(f"{where}: {err.args[0]}") from None
    else:
        raise DataError(f'{where}: a record needs "results" (the authors\' form) or "distribution" (emozoo predict)')
    return out


def read_predictions(
    path: str | Path, mapping: BasicMapping, labels: dict[str, Any] | None = None, label_key: str = "label"
) -> tuple[list[str], np.ndarray, list[str]]:
    """Keys, (N, 40) scores and true classes of a predictions JSONL (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    keys, rows, truth = [], [], []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{where}: not JSON ({err.msg})") from None
            if not isinstance(rec, dict):
                raise DataError(f"{where}: a record is a JSON object")
            face = rec.get("face")
            if isinstance(face, int) and not isinstance(face, bool) and face > 0:
                continue
            key = rec.get("image_path", rec.get("image"))
            if not isinstance(key, str):
                raise DataError(f'{where}: no "image_path" or "image" field')
            if labels is not None:
                short = key.rsplit(":", 1)[-1]  # emozoo predict names shard samples "<tar>:<key>"
                if short not in labels:
                    raise DataError(f"{where}: no label for {short!r} in the label table")
                raw = labels[short]
            else:
                raw = rec[label_key] if rec.get(label_key) is not None else label_from_path(key)
            keys.append(key)
            rows.append(_scores(rec, where))
            truth.append(mapping.true_class(raw, where))
    if not keys:
        raise DataError(f"{path}: no records")
    return keys, np.stack(rows), truth


def shard_labels(directory: str | Path, field: str = "basic") -> dict[str, Any]:
    """{sample key: its ``json[field]``} over the ``*.tar`` shards of a folder (images are not read)."""
    directory = Path(directory)
    tars = sorted(directory.glob("*.tar")) if directory.is_dir() else [directory]
    out: dict[str, Any] = {}
    for tar_path in tars:
        with tarfile.open(tar_path) as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".json"):
                    meta = json.loads(tar.extractfile(member).read())
                    if isinstance(meta, dict) and meta.get(field) is not None:
                        out[member.name.split(".", 1)[0]] = meta[field]
    if not out:
        raise DataError(f'{directory}: no sample has a "{field}" label in its json')
    return out


def render_basic_markdown(result: dict[str, Any]) -> str:
    """The per-class and overall accuracy table, in the layout of the authors' ``eval.ipynb``."""
    lines = [
        f"# Basic-emotion accuracy: {result['mapping']}",
        "",
        f"{result['n']} images; {result['mapped']} heads mapped; an image is correct when a head of its class has "
        f"softmax > {result['cutoff']:.4f} (1.5 / mapped heads, the authors' rule).",
        "",
        "| class | images | accuracy |",
        "|---|---:|---:|",
    ]
    for c, v in result["per_class"].items():
        acc = "–" if v["accuracy"] is None else f"{v['accuracy']:.4f}"
        lines.append(f"| {c} | {v['n']} | {acc} |")
    lines.append(f"| **overall** | {result['n']} | **{result['overall_accuracy']:.4f}** |")
    return "\n".join(lines) + "\n"


def write_basic_report(result: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    """``basic.json``, ``basic.md`` and ``basic_confusion.png`` in ``out_dir``; returns their paths."""
    from emozoo.metrics.plots import plot_confusion

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "basic.json", "markdown": out_dir / "basic.md", "png": out_dir / "basic_confusion.png"}
    paths = {k: str(v) for k, v in files.items()}
    files["json"].write_text(json.dumps({**result, "files": paths}, indent=2, allow_nan=False) + "\n")
    files["markdown"].write_text(render_basic_markdown(result))
    title = f"{result['mapping']}: accuracy {result['overall_accuracy']:.4f} on {result['n']} images"
    plot_confusion(np.array(result["confusion"]), result["classes"], files["png"], title)
    return paths
