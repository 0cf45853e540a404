"""Label statistics and demographic balance of a converted EmoNet-Face shard set, for its ``manifest.json``.

Statistics describe what was written (after missing images and invalid labels are left out), per split and in
total, so a user can see at a glance that the splits are balanced and that the labels look like the paper's
(e.g. Binary: about 65k answers on 20k images, 2 queried emotions per image).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from emozoo.taxonomy import NAMES, NUM_EMOTIONS

__all__ = ["ConvertStats"]


def _age_bin(age: Any) -> str:
    """Decades for numeric ages (``30s``), the value itself for labels such as ``young adult``."""
    try:
        return f"{min(int(float(age)) // 10 * 10, 80)}s"
    except (TypeError, ValueError):
        return str(age)


class _Split:
    def __init__(self) -> None:
        self.count = 0
        self.demographics: dict[str, Counter] = {"age": Counter(), "gender": Counter(), "ethnicity": Counter()}
        self.rating_sum = np.zeros(NUM_EMOTIONS)
        self.rating_pos = np.zeros(NUM_EMOTIONS)
        self.num_ratings = 0
        self.rated_images = 0
        self.rater_counts: Counter = Counter()
        self.queries = np.zeros(NUM_EMOTIONS, dtype=int)
        self.yes = np.zeros(NUM_EMOTIONS, dtype=int)
        self.answers = 0
        self.weak_sum = np.zeros(NUM_EMOTIONS)
        self.weak_pos = np.zeros(NUM_EMOTIONS)
        self.weak_images = 0
        self.extra: dict[str, list[float]] = {}

    def add(self, meta: dict) -> None:
        self.count += 1
        for name, counter in self.demographics.items():
            value = meta["demographics"].get(name)
            counter["unknown" if value is None else _age_bin(value) if name == "age" else str(value)] += 1
        vectors = [v for v in meta["ratings"].values() if v is not None]
        self.rater_counts.update(r for r, v in meta["ratings"].items() if v is not None)
        if vectors:
            arr = np.asarray(vectors, dtype=float)
            self.rating_sum += arr.sum(0)
            self.rating_pos += (arr >= 1).sum(0)
            self.num_ratings += len(arr)
            self.rated_images += 1
        for name, answers in meta["binary"].items():
            idx = NAMES.index(name)
            self.queries[idx] += 1
            self.yes[idx] += sum(answers.values())
            self.answers += len(answers)
            self.rater_counts.update(answers.keys())
        if meta["weak"] is not None:
            weak = np.asarray(meta["weak"], dtype=float)
            self.weak_sum += weak
            self.weak_pos += weak > 0
            self.weak_images += 1
        for dim, value in (meta.get("extra") or {}).items():
            if value is not None:
                self.extra.setdefault(dim, []).append(float(value))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "num_samples": self.count,
            "demographics": {k: dict(sorted(v.items())) for k, v in self.demographics.items()},
        }
        if self.num_ratings:
            out["ratings"] = {
                "num_ratings": self.num_ratings,
                "raters_per_image": round(self.num_ratings / self.rated_images, 3),
                "mean": dict(zip(NAMES, np.round(self.rating_sum / self.num_ratings, 4).tolist())),
                "positive_rate": dict(zip(NAMES, np.round(self.rating_pos / self.num_ratings, 4).tolist())),
                "ratings_per_rater": dict(sorted(self.rater_counts.items())),
            }
        if self.answers:
            out["binary"] = {
                "num_queries": int(self.queries.sum()),
                "num_answers": self.answers,
                "yes_rate": round(int(self.yes.sum()) / self.answers, 4),
                "queried": dict(zip(NAMES, self.queries.tolist())),
                "yes": dict(zip(NAMES, self.yes.tolist())),
                "answers_per_rater": dict(sorted(self.rater_counts.items())),
            }
        if self.weak_images:
            out["weak"] = {
                "mean": dict(zip(NAMES, np.round(self.weak_sum / self.weak_images, 4).tolist())),
                "positive_rate": dict(zip(NAMES, np.round(self.weak_pos / self.weak_images, 4).tolist())),
                "nonzero_per_image": round(float(self.weak_pos.sum() / self.weak_images), 4),
            }
        if self.extra:
            out["extra_mean"] = {k: round(float(np.mean(v)), 4) for k, v in sorted(self.extra.items())}
        return out


class ConvertStats:
    """Accumulates statistics per split; ``summary()`` gives ``{"all": ..., "<split>": ...}``."""

    def __init__(self) -> None:
        self.splits: dict[str, _Split] = {}
        self.total = _Split()

    def add(self, split: str, meta: dict) -> None:
        self.splits.setdefault(split, _Split()).add(meta)
        self.total.add(meta)

    def raters(self) -> list[str]:
        return sorted(self.total.rater_counts)

    def summary(self) -> dict[str, Any]:
        return {"all": self.total.summary(), **{name: s.summary() for name, s in sorted(self.splits.items())}}
