"""Emotion heads: embeddings (B, D) to per-emotion intensities and a distribution over the 40 emotions.

Every head returns the same dict, so losses, metrics and exporters never care which head ran:

- ``logits`` (B, 40): unbounded intensity scores; ``intensity = 7 * sigmoid(logits)``.
- ``intensity`` (B, 40): predicted strength on the annotation scale, 0 = not present .. 7 = very strong.
- ``presence_logits`` (B, 40): log-odds that an expert answers "yes, present" (for binary labels).
- ``distribution`` (B, 40): a probability distribution over the emotions (sums to 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from emozoo.registry import Registry
from emozoo.taxonomy import NUM_EMOTIONS

__all__ = ["HEADS", "EmotionHead", "LinearHead", "MLPHead", "create_head"]

MAX_INTENSITY = 7.0
# Experts' yes/no answers flip around a perceived intensity of about 2 ("clearly present" on the 0-7 scale).
# presence_logits start as logit(P(yes)) with that threshold and are then calibrated per emotion by training.
_PRESENCE_THRESHOLD = 2.0

HEADS: Registry[type[EmotionHead]] = Registry("head")


class EmotionHead(nn.Module):
    """Base class: subclasses implement ``scores(x) -> (logits, distribution_logits)``.

    The intensity, presence and distribution outputs are derived here in one place.

    Args:
        in_features: embedding width of the backbone.
        num_emotions: number of emotions (40 for EmoNet-Face).
    """

    def __init__(self, in_features: int, num_emotions: int = NUM_EMOTIONS):
        super().__init__()
        self.in_features = in_features
        self.num_emotions = num_emotions
        # P(yes) = sigmoid(scale * (logit - threshold_logit)): a logistic observation model of a rater who says
        # "present" when their noisy perception of the intensity exceeds a personal threshold.
        t = _PRESENCE_THRESHOLD / MAX_INTENSITY
        self.presence_scale = nn.Parameter(torch.ones(num_emotions))
        self.presence_bias = nn.Parameter(torch.full((num_emotions,), -math.log(t / (1 - t))))

    def scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, dist_logits = self.scores(x)
        logits, dist_logits = logits.float(), dist_logits.float()  # the outputs are exact in fp32 under autocast
        return {
            "logits": logits,
            "intensity": MAX_INTENSITY * torch.sigmoid(logits),
            "presence_logits": self.presence_scale * logits + self.presence_bias,
            "distribution": torch.softmax(dist_logits, dim=-1),
        }


class MLPHead(EmotionHead):
    """A shared trunk (LayerNorm, Linear, GELU, Dropout) with two linear outputs: intensities and distribution."""

    def __init__(self, in_features: int, num_emotions: int = NUM_EMOTIONS, hidden_dim: int = 256, dropout: float = 0.1):
        super().__init__(in_features, num_emotions)
        self.trunk = nn.Sequential(
            nn.LayerNorm(in_features),
            nn.Linear(in_features, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
        )
        self.intensity = nn.Linear(hidden_dim, num_emotions)
        self.distribution = nn.Linear(hidden_dim, num_emotions)

    def scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.intensity(h), self.distribution(h)


class LinearHead(EmotionHead):
    """A linear probe: LayerNorm then one linear layer per output (``hidden_dim``/``dropout`` are ignored)."""

    def __init__(self, in_features: int, num_emotions: int = NUM_EMOTIONS, hidden_dim: int = 0, dropout: float = 0.0):
        super().__init__(in_features, num_emotions)
        self.norm = nn.LayerNorm(in_features)
        self.intensity = nn.Linear(in_features, num_emotions)
        self.distribution = nn.Linear(in_features, num_emotions)

    def scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.norm(x)
        return self.intensity(h), self.distribution(h)


HEADS.register("mlp", MLPHead)
HEADS.register("linear", LinearHead)


def create_head(name: str, in_features: int, num_emotions: int = NUM_EMOTIONS, **kwargs) -> EmotionHead:
    """Build a registered head (``emozoo.heads.HEADS.names()``)."""
    return HEADS.get(name)(in_features, num_emotions, **kwargs)
