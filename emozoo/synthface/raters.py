"""SynthFace's simulated annotators: the three label protocols of EmoNet-Face on top of a hidden latent.

Each simulated expert perceives a face's emotions as ``scale * (latent + leak * look-alikes) + bias + noise``:
a personal scale, a per-emotion bias, a habit of confusing emotions that look alike, and a lot of
per-judgement noise. Experts are individually noisy (mean pairwise quadratic kappa about 0.35, as in the
paper), while the image carries the latent faithfully, so a model can beat a single expert at matching the
others' median. The VLM labeller is a biased, noisy, top-k reader of the same latent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emozoo.synthface.latent import extra_from_latent, similarity_matrix
from emozoo.taxonomy import EXTRA_DIMENSIONS, NAMES, NUM_EMOTIONS

__all__ = ["RaterPanel", "binary_labels", "hq_ratings", "weak_labels"]

_LEAK = similarity_matrix() / similarity_matrix().sum(axis=1, keepdims=True)  # each row sums to 1
_BINARY_THRESHOLD = 2.0  # "is this emotion present?" means a perceived intensity above ~2 of 7
_BINARY_RATERS_P = (0.63, 0.09, 0.28)  # P(1, 2, 3 raters per query), as in the real binary.csv
_WEAK_MAX_NONZERO = 5  # VLM labels name at most ~5 emotions per image
_WEAK_THRESHOLD = 2.0  # VLMs name an emotion only when it is fairly clear


@dataclass(frozen=True)
class RaterPanel:
    """The simulated experts of one SynthFace seed, and the VLM's per-emotion bias.

    Attributes:
        ids: ``rater-1`` ... ``rater-N``.
        usage: how often each rater is picked (some experts labelled far more images than others).
        scale, offset, noise, threshold, leak: (N,) personal perception parameters.
        bias: (N, 40) per-emotion bias of each rater.
        vlm_bias: (40,) per-emotion bias of the VLM labeller.
    """

    ids: tuple[str, ...]
    usage: np.ndarray
    scale: np.ndarray
    noise: np.ndarray
    threshold: np.ndarray
    leak: np.ndarray
    bias: np.ndarray
    vlm_bias: np.ndarray

    @classmethod
    def create(cls, seed: int, num_raters: int = 8) -> RaterPanel:
        rng = np.random.default_rng([seed, 7919])  # 7919: a stream of its own, apart from the images'
        n = num_raters
        return cls(
            ids=tuple(f"rater-{i + 1}" for i in range(n)),
            usage=rng.uniform(0.4, 1.6, n),
            scale=rng.uniform(0.75, 1.25, n),
            noise=rng.uniform(1.6, 2.2, n),  # tuned so that mean pairwise quadratic kappa is ~0.35
            threshold=rng.uniform(2.2, 3.2, n),  # below this perceived intensity a rater answers 0
            leak=rng.uniform(0.1, 0.35, n),
            bias=rng.normal(0.0, 0.5, (n, NUM_EMOTIONS)) + rng.normal(0.0, 0.3, (n, 1)),
            vlm_bias=rng.normal(0.0, 0.6, NUM_EMOTIONS),
        )

    def pick(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` distinct rater indices, sorted, favouring the busier raters."""
        k = min(k, len(self.ids))
        return np.sort(rng.choice(len(self.ids), size=k, replace=False, p=self.usage / self.usage.sum()))

    def perceive(self, rng: np.random.Generator, r: int, latent: np.ndarray) -> np.ndarray:
        """Rater ``r``'s noisy perception of all 40 intensities (unclipped)."""
        seen = latent + self.leak[r] * (_LEAK @ latent)
        return self.scale[r] * seen + self.bias[r] + rng.normal(0.0, self.noise[r], NUM_EMOTIONS)


def hq_ratings(rng: np.random.Generator, panel: RaterPanel, latent: np.ndarray, k: int) -> dict[str, list[float]]:
    """HQ-like labels: ``k`` experts each rate all 40 emotions on a continuous 0-7 scale (one decimal)."""
    out = {}
    for r in panel.pick(rng, k):
        seen = panel.perceive(rng, r, latent)
        rating = np.where(seen >= panel.threshold[r], np.clip(seen, 0.0, 7.0), 0.0)
        out[panel.ids[r]] = [round(float(v), 1) for v in rating]
    return out


def binary_labels(rng: np.random.Generator, panel: RaterPanel, latent: np.ndarray) -> dict[str, dict[str, bool]]:
    """Binary-like labels: 2 queried emotions (usually one present, one absent), each answered by 1-3 experts."""
    present = np.flatnonzero(latent >= 3.0)
    absent = np.flatnonzero(latent < 1.0)
    if present.size and absent.size and rng.random() < 0.9:
        queried = [int(rng.choice(present)), int(rng.choice(absent))]
        rng.shuffle(queried)
    else:
        queried = [int(e) for e in rng.choice(NUM_EMOTIONS, size=2, replace=False)]
    out = {}
    for e in queried:
        answers = {}
        for r in panel.pick(rng, 1 + int(rng.choice(3, p=_BINARY_RATERS_P))):
            answers[panel.ids[r]] = bool(panel.perceive(rng, r, latent)[e] > _BINARY_THRESHOLD)
        out[NAMES[e]] = answers
    return out


def weak_labels(rng: np.random.Generator, panel: RaterPanel, latent: np.ndarray) -> tuple[list[int], dict[str, int]]:
    """Big-like VLM labels: integer 0-7 intensities with at most 5 non-zero, plus the 4 extra dimensions."""
    seen = 0.9 * latent + 0.25 * (_LEAK @ latent) + panel.vlm_bias + rng.normal(0.0, 0.8, NUM_EMOTIONS)
    weak = np.zeros(NUM_EMOTIONS, dtype=int)
    top = [int(e) for e in np.argsort(-seen, kind="stable")[:_WEAK_MAX_NONZERO] if seen[e] >= _WEAK_THRESHOLD]
    weak[top] = np.clip(np.rint(seen[top]), 1, 7).astype(int)
    extra = {}
    for key, value in extra_from_latent(latent).items():
        lo, hi = EXTRA_DIMENSIONS[key]
        extra[key] = int(np.clip(np.rint(value + rng.normal(0.0, 0.5)), lo, hi))
    return weak.tolist(), extra
