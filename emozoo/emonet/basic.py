"""Basic-emotion evaluation: the 40 heads mapped onto a classic label set (FERD, AffectNet, RAF-DB, FER2013).

The default mappings and the decision rule are the authors' (LAION-AI/emonet-face at commit f4d4dab:
``eval/config.py`` for the mappings, ``eval/eval.ipynb`` for the rule; MIT code, the mappings are data). They ship
verbatim, with that provenance, as ``emozoo/assets/basic_mappings.json`` (sections ``ferd``, 7 classes, and
``affectnet``, 8 classes).

**The rule.** For each image take the scores of the heads the mapping maps (a head mapped to ``null`` is left
out), softmax over them, and count the image correct when *any* head of the true class has a softmax above
``threshold / n_mapped`` (threshold 1.5; ``n_mapped`` the number of heads the mapping maps, 40 in both defaults).
Accuracy per true class; overall = mean over images. The scores are the heads' *mean-subtracted* outputs
(``mean_subtracted`` in the authors' JSONL). An ``emozoo predict`` record holds ``distribution``, the softmax over
the 40 mean-subtracted scores, so its logarithm is the mean-subtracted score minus one constant per image, which
the softmax removes: the rule gives the same answer from either.

**The confusion matrix** puts each image in the row of its true class and the column of its top mapped head's
class. The rule can count an image correct whose top head belongs to another class, so the diagonal share may be
below the accuracy.

**Bring your own mapping** (e.g. RAF-DB, FER2013) as a JSON file::

    {
      "name": "rafdb",
      "mapping": {"model_elation_best": "happy", "Amusement": "happy", "awe": null, ...},
      "labels": {"1": "surprise", "2": "fear", ...},
      "threshold": 1.5
    }

``mapping`` keys name heads as ``model_<slug>_best`` or by emotion name, slug or alias; values are class names or
``null``; heads not listed are not mapped. ``labels`` (optional) turns the ground-truth labels as written in the
data (e.g. AffectNet's integers) into class names; labels not listed are used as they are (lower-cased).
``threshold`` (optional) is the numerator of the cutoff. The classes are the distinct mapped values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from emozoo.errors import DataError
from emozoo.taxonomy import NAMES, NUM_EMOTIONS, emotion_index

__all__ = ["BUILTIN", "BasicMapping", "basic_accuracy", "head_index", "label_from_path", "load_mapping"]

BUILTIN = ("ferd", "affectnet")
THRESHOLD = 1.5  # the authors' numerator: a head "fires" at 1.5x the uniform share over the mapped heads


@dataclass(frozen=True)
class BasicMapping:
    """A head → class mapping with its ground-truth label names and the cutoff numerator."""

    name: str
    head_class: tuple[str | None, ...]  # one entry per emotion (taxonomy order); None: not mapped
    labels: dict[str, str]
    threshold: float = THRESHOLD

    @property
    def classes(self) -> list[str]:
        return sorted({c for c in self.head_class if c is not None})

    @property
    def n_mapped(self) -> int:
        return sum(c is not None for c in self.head_class)

    def true_class(self, label: Any, where: str) -> str:
        """The class of a ground-truth label; DataError naming it when it is none of the classes."""
        text = str(label).strip().lower()
        cls = self.labels.get(text, text)
        if cls not in self.classes:
            raise DataError(
                f"{where}: label {label!r} is not one of the {self.name} classes ({', '.join(self.classes)}); "
                'add it to the mapping\'s "labels"'
            )
        return cls


def head_index(key: str) -> int:
    """Emotion index of a head named ``model_<slug>_best``, or by name, slug or alias. KeyError if none."""
    text = str(key)
    if text.startswith("model_") and text.endswith("_best"):
        text = text[len("model_") : -len("_best")]
    return emotion_index(text)


def label_from_path(path: str) -> str:
    """The authors' FERD ground truth: the file name's part after the last ``_`` and before the first ``.``."""
    return str(path).split("_")[-1].split(".")[0].lower()


def _parse(data: Any, name: str, where: str) -> BasicMapping:
    if not isinstance(data, dict) or not isinstance(data.get("mapping"), dict):
        raise DataError(f'{where}: a mapping file is a JSON object with a "mapping" object (head -> class or null)')
    head_class: list[str | None] = [None] * NUM_EMOTIONS
    for key, cls in data["mapping"].items():
        try:
            i = head_index(key)
        except KeyError as err:
            raise DataError(f"{where}: mapping key {key!r}: {err.args[0]}") from None
        if cls is not None and (not isinstance(cls, str) or not cls.strip()):
            raise DataError(f"{where}: mapping[{key!r}] must be a class name or null, got {cls!r}")
        head_class[i] = None if cls is None else cls.strip().lower()
    labels = data.get("labels", data.get("ground_truth_labels", {}))
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise DataError(f'{where}: "labels" must map label -> class name')
    threshold = data.get("threshold", THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1e6:
        raise DataError(f'{where}: "threshold" must be a positive number, got {threshold!r}')
    mapping = BasicMapping(
        str(data.get("name", name)),
        tuple(head_class),
        {str(k).strip().lower(): v.strip().lower() for k, v in labels.items()},
        float(threshold),
    )
    if mapping.n_mapped == 0:
        raise DataError(f"{where}: the mapping maps no head to a class")
    return mapping


def load_mapping(name_or_path: str | Path) -> BasicMapping:
    """``"ferd"`` or ``"affectnet"`` (the authors' mappings), or a mapping JSON file (see the module docstring)."""
    if str(name_or_path) in BUILTIN:
        name = str(name_or_path)
        data = json.loads(resources.files("emozoo.assets").joinpath("basic_mappings.json").read_text())[name]
        if name == "ferd":  # FERD's file names say "Surprised"; its class is "surprise" (eval.ipynb)
            data = {**data, "labels": {"surprised": "surprise"}}
        return _parse(data, name, f"basic_mappings.json[{name}]")
    path = Path(name_or_path)
    if not path.is_file():
        raise DataError(f"--basic {name_or_path}: neither {' nor '.join(BUILTIN)} nor a mapping JSON file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a JSON file ({err})") from None
    return _parse(data, path.stem, str(path))


def basic_accuracy(scores: Any, labels: list[str], mapping: BasicMapping, keys: list[str] | None = None) -> dict:
    """Per-class and overall accuracy of the authors' rule (module docstring), and the confusion matrix.

    Args:
        scores: (N, 40) mean-subtracted head scores (or log-distribution), NaN for a head a record lacks.
        labels: N true class names (already through :meth:`BasicMapping.true_class`).
        mapping: the head → class mapping.
        keys: N image names for the per-image list (default ``0..N-1``).

    Returns:
        A JSON-able dict: ``mapping``, ``classes``, ``n``, ``mapped`` ("k / 40"), ``cutoff``, ``overall_accuracy``,
        ``per_class`` {class: {``n``, ``accuracy``}}, ``confusion`` (rows true, columns top head's class) and
        ``images`` [{``key``, ``label``, ``hit``, ``top_class``}].
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != NUM_EMOTIONS or s.shape[0] != len(labels) or s.shape[0] == 0:
        raise ValueError(f"scores must have shape (N={len(labels)}, {NUM_EMOTIONS}) with N > 0, got {s.shape}")
    classes = mapping.classes
    mapped = np.array([c is not None for c in mapping.head_class])
    head_cls = np.array([classes.index(c) if c is not None else -1 for c in mapping.head_class])
    x = np.where(mapped & ~np.isnan(s), s, -np.inf)  # heads left out get probability 0
    top = x.max(1, keepdims=True)
    if not np.isfinite(top).all():
        raise ValueError("a record has no score for any mapped head")
    e = np.exp(x - top)
    soft = e / e.sum(1, keepdims=True)
    cutoff = mapping.threshold / mapping.n_mapped
    truth = np.array([classes.index(c) for c in labels])
    hit = ((soft > cutoff) & (head_cls[None, :] == truth[:, None])).any(1)
    predicted = head_cls[np.argmax(x, 1)]
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = {
        c: {"n": int((truth == k).sum()), "accuracy": float(hit[truth == k].mean()) if (truth == k).any() else None}
        for k, c in enumerate(classes)
    }
    names = keys if keys is not None else [str(i) for i in range(len(labels))]
    return {
        "mapping": mapping.name,
        "classes": classes,
        "n": int(len(labels)),
        "mapped": f"{mapping.n_mapped} / {NUM_EMOTIONS}",
        "head_class": dict(zip(NAMES, mapping.head_class)),
        "cutoff": cutoff,
        "overall_accuracy": float(hit.mean()),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "images": [
            {"key": k, "label": lab, "hit": bool(h), "top_class": classes[p]}
            for k, lab, h, p in zip(names, labels, hit, predicted)
        ],
    }
