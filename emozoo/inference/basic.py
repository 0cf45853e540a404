"""Basic-emotion accuracy of a model or of predictions already made: ``emozoo eval --basic`` (issue: the FER bridge).

Predictions come from a JSONL (the authors' results form or ``emozoo predict`` records), or are made here: the
model scores a shard set or an image folder through the one predict path (``predict_files``) into
``OUT/predictions.jsonl``, which is then read back like any other predictions file. True labels come from the
shards' sample json (``label_field``), a record's ``label`` field, or FERD-style file names. The rule and the
mappings live in ``emozoo.emonet.basic``; reading and the report in ``emozoo.emonet.basic_io``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from emozoo.errors import DataError

__all__ = ["evaluate_basic"]


def evaluate_basic(
    mapping: str | Path,
    *,
    out: str | Path,
    predictions: str | Path | None = None,
    model: str | Path | torch.nn.Module | None = None,
    data: str | Path | None = None,
    labels: str | Path | None = None,
    label_field: str = "basic",
    faces: str = "none",
    batch_size: int = 64,
    workers: int = 0,
    precision: str = "32",
    device: str | None = "auto",
    encoder: str | None = None,
    neutral_means: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Per-class and overall accuracy on a basic label set, written to ``out`` (JSON, Markdown, confusion PNG).

    Args:
        mapping: ``"ferd"``, ``"affectnet"`` (the authors' mappings) or a mapping JSON file.
        out: the report folder.
        predictions: a predictions JSONL; when None, ``model`` scores ``data`` first.
        model: a model, zoo name or folder (with ``data``).
        data: shard folder or images to score (with ``model``); its shards also give the labels by default.
        labels: a shard folder whose sample json holds ``label_field`` (default: ``data`` when it is a folder of
            shards, else each record's ``label`` or the file name).
        faces: the crop stage when ``model`` scores ``data``: ``none`` (benchmark images are close-ups), or
            ``largest`` for in-the-wild photos (one face per label).

    Raises:
        DataError: neither predictions nor a model and data, or labels that are missing or unknown.
    """
    from emozoo.emonet.basic import basic_accuracy, load_mapping
    from emozoo.emonet.basic_io import read_predictions, shard_labels, write_basic_report

    table = load_mapping(mapping)  # a bad mapping fails before a long run
    out = Path(out)
    if predictions is None:
        if model is None or data is None:
            raise DataError("--basic needs --predictions FILE.jsonl, or --model and --data to score (shards or images)")
        from emozoo.inference.loading import load_for_inference, on_device
        from emozoo.inference.predicting import predict_files

        if isinstance(model, torch.nn.Module):
            net = on_device(model.eval(), device)
        else:
            net = load_for_inference(model, encoder=encoder, neutral_means=neutral_means, device=device)
        predictions = out / "predictions.jsonl"
        predict_files(
            net,
            [str(data)],
            predictions,
            progress=progress,
            batch_size=batch_size,
            workers=workers,
            precision=precision,
            faces=faces,
        )
        if labels is None and Path(data).is_dir() and any(Path(data).glob("*.tar")):
            labels = data
    table_labels = shard_labels(labels, label_field) if labels is not None else None
    keys, scores, truth = read_predictions(predictions, table, table_labels)
    result = {"predictions": str(predictions), **basic_accuracy(scores, truth, table, keys)}
    result["files"] = write_basic_report(result, out)
    return result
