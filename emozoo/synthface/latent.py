"""SynthFace's hidden emotion vectors, and the extra dimensions (arousal, valence, ...) derived from them.

Latents are sampled the way the real data looks: most faces show 1-3 dominant emotions at high intensity
plus a few weak ones, and the co-occurring emotions tend to come from the same family or look alike; a
fraction of faces is near-neutral. The first dominant emotion is drawn uniformly, so every emotion is the
main one of about 1/40 of the faces.
"""

from __future__ import annotations

import numpy as np

from emozoo.synthface.actions import signature_matrix
from emozoo.taxonomy import EMOTIONS, EXTRA_DIMENSIONS, NAMES, NUM_EMOTIONS

__all__ = ["NEUTRAL_FRACTION", "VAD", "extra_from_latent", "sample_latent", "similarity_matrix"]

NEUTRAL_FRACTION = 0.08  # the real sets have some faces that raters see as (nearly) expressionless
_NUM_DOMINANT_P = (0.45, 0.35, 0.20)  # P(1, 2, 3 dominant emotions)
_FIRST_RANGE = (3.5, 7.0)  # the main emotion is clearly visible
_OTHER_RANGE = (2.0, 6.0)
_WEAK_RANGE = (0.2, 2.0)  # weak ones sit below the "present" threshold (~2) that binary raters use
_WEAK_MEAN_COUNT = 2.0

# Per emotion at full intensity: (valence -3..3, arousal 0..7, dominance -3..3, vulnerability 0..5).
VAD: dict[str, tuple[float, float, float, float]] = {
    "Amusement": (2.5, 5.0, 1.0, 1.0), "Elation": (3.0, 6.5, 1.5, 1.0), "Pleasure/Ecstasy": (3.0, 5.0, 0.5, 2.0),
    "Contentment": (2.0, 1.5, 0.5, 1.0), "Thankfulness/Gratitude": (2.5, 3.0, 0.0, 2.5),
    "Affection": (2.5, 3.0, 0.0, 2.5), "Infatuation": (2.5, 5.0, -0.5, 3.5),
    "Hope/Enthusiasm/Optimism": (2.0, 4.5, 0.5, 2.0), "Triumph": (3.0, 6.5, 3.0, 0.0), "Pride": (2.0, 4.0, 2.5, 0.5),
    "Interest": (1.0, 4.5, 0.5, 1.0), "Awe": (1.5, 5.0, -1.0, 2.5), "Astonishment/Surprise": (0.5, 6.0, -0.5, 2.0),
    "Concentration": (0.0, 4.0, 1.0, 0.5), "Contemplation": (0.5, 2.0, 0.5, 1.0), "Relief": (2.0, 2.0, 0.0, 2.0),
    "Longing": (-0.5, 3.0, -1.0, 3.5), "Teasing": (1.5, 5.0, 1.5, 0.5),
    "Impatience and Irritability": (-1.5, 5.0, 1.0, 1.0), "Sexual Lust": (1.5, 6.0, 1.0, 2.0),
    "Doubt": (-1.0, 3.0, 0.0, 1.5), "Fear": (-2.5, 6.5, -2.5, 4.5), "Distress": (-2.5, 6.0, -2.0, 4.0),
    "Confusion": (-0.5, 4.0, -1.0, 2.5), "Embarrassment": (-1.5, 5.0, -2.0, 4.0), "Shame": (-2.5, 3.0, -2.5, 4.5),
    "Disappointment": (-2.0, 2.5, -1.0, 3.0), "Sadness": (-2.5, 2.0, -1.5, 4.5), "Bitterness": (-2.0, 4.0, 0.5, 2.5),
    "Contempt": (-1.5, 3.5, 2.5, 0.5), "Disgust": (-2.5, 5.0, 1.0, 1.5), "Anger": (-2.5, 7.0, 2.5, 1.0),
    "Malevolence/Malice": (-2.0, 5.5, 2.5, 0.0), "Sourness": (-1.5, 4.0, 0.0, 1.0), "Pain": (-3.0, 6.0, -2.0, 4.5),
    "Helplessness": (-2.5, 3.0, -3.0, 5.0), "Fatigue/Exhaustion": (-1.0, 0.5, -1.0, 3.0),
    "Emotional Numbness": (-1.0, 0.5, -0.5, 3.0), "Intoxication/Altered States of Consciousness": (0.5, 4.0, 0.0, 3.0),
    "Jealousy & Envy": (-2.0, 5.0, -0.5, 3.0),
}  # fmt: skip
_VAD = np.array([VAD[name] for name in NAMES])  # (40, 4), columns in EXTRA_DIMENSIONS order below
_NEUTRAL_VAD = np.array([0.0, 2.0, 0.0, 1.0])
_NEUTRAL_WEIGHT = 1.5  # a neutral face "counts" like an emotion at intensity 1.5 in the weighted mean
_EXTRA_KEYS = ("valence", "arousal", "dominance", "vulnerability")


def similarity_matrix() -> np.ndarray:
    """(40, 40) look-alike score in [0, 1]: cosine similarity of signatures, plus a bonus for the same family."""
    table = signature_matrix()
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    cosine = np.clip(unit @ unit.T, 0.0, 1.0)
    family = np.array([e.family for e in EMOTIONS])
    same = (family[:, None] == family[None, :]).astype(float)
    sim = 0.6 * cosine + 0.4 * same
    np.fill_diagonal(sim, 0.0)
    return sim


_SIM = similarity_matrix()


def _pick_related(rng: np.random.Generator, chosen: list[int], exclude: set[int], bias: float) -> int:
    """An emotion not yet chosen, favouring ones that look like or share a family with ``chosen``."""
    weights = 1.0 + bias * _SIM[chosen].max(axis=0)
    weights[list(exclude)] = 0.0
    return int(rng.choice(NUM_EMOTIONS, p=weights / weights.sum()))


def sample_latent(rng: np.random.Generator) -> np.ndarray:
    """A (40,) float vector of hidden emotion intensities in [0, 7]."""
    latent = np.zeros(NUM_EMOTIONS)
    chosen: list[int] = []
    if rng.random() >= NEUTRAL_FRACTION:
        chosen.append(int(rng.integers(NUM_EMOTIONS)))
        latent[chosen[0]] = rng.uniform(*_FIRST_RANGE)
        for _ in range(int(rng.choice(3, p=_NUM_DOMINANT_P))):
            # strong bias: a second dominant emotion is usually a relative of the first
            e = _pick_related(rng, chosen, set(chosen), bias=8.0)
            chosen.append(e)
            latent[e] = rng.uniform(*_OTHER_RANGE)
    num_weak = int(rng.poisson(_WEAK_MEAN_COUNT))
    for _ in range(num_weak):
        e = _pick_related(rng, chosen, set(chosen), bias=4.0) if chosen else int(rng.integers(NUM_EMOTIONS))
        if e not in chosen:
            chosen.append(e)
            latent[e] = rng.uniform(*_WEAK_RANGE)
    return latent


def extra_from_latent(latent: np.ndarray) -> dict[str, float]:
    """Noise-free arousal, valence, dominance and vulnerability of a face: the intensity-weighted mean of its
    emotions' values, pulled towards neutral when the emotions are weak."""
    weights = np.asarray(latent, dtype=float)
    mean = (_NEUTRAL_WEIGHT * _NEUTRAL_VAD + weights @ _VAD) / (_NEUTRAL_WEIGHT + weights.sum())
    out = dict(zip(_EXTRA_KEYS, mean.tolist()))
    return {k: float(np.clip(out[k], *EXTRA_DIMENSIONS[k])) for k in EXTRA_DIMENSIONS}
