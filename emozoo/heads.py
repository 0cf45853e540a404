"""Emotion heads: embeddings (B, D) to per-emotion intensities and a distribution over the 40 emotions.

Every head returns the same dict, so losses, metrics and exporters never care which head ran:

- ``logits`` (B, 40): unbounded intensity scores; ``expected_intensity = 7 * sigmoid(logits)``.
- ``expected_intensity`` (B, 40): the mean intensity on the 0–7 annotation scale, never exactly 0.
- ``presence_logits`` (B, 40): log-odds that an expert answers "yes, present" (for binary labels).
- ``intensity`` (B, 40): what an expert would report: 0 where the emotion is judged absent
  (``presence_logits < 0``), else ``expected_intensity``.
- ``distribution`` (B, 40): a probability distribution over the emotions (sums to 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from emozoo.registry import Registry
from emozoo.taxonomy import NUM_EMOTIONS

__all__ = ["HEADS", "EmotionHead", "LinearHead", "MLPHead", "PerEmotionHead", "create_head"]

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
        expected = MAX_INTENSITY * torch.sigmoid(logits)
        presence = self.presence_scale * logits + self.presence_bias
        # A hurdle model, like the raters: an expert first decides whether an emotion is there at all, and rates
        # it 0 otherwise. Most emotions are absent from most faces (the per-image median rating is exactly 0 for
        # about 90% of entries), so an output that is never 0 would rank all those ties at random.
        intensity = torch.where(presence > 0, expected, torch.zeros_like(expected))
        return {
            "logits": logits,
            "expected_intensity": expected,
            "presence_logits": presence,
            "intensity": intensity,
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


def _mlp(dims: tuple[int, ...], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class _ScoreMLP(nn.Module):
    """One published per-emotion head: the state dict keys are ``layers.0.weight``, ``layers.3.weight``, ..."""

    def __init__(self, dims: tuple[int, ...], dropout: float):
        super().__init__()
        self.layers = _mlp(dims, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).squeeze(-1)


class PerEmotionHead(EmotionHead):
    """The Empathic-Insight-Face layout: one independent MLP regressor per emotion (and per extra dimension).

    ``raw`` scores are regressions on the 0-7 scale. The published post-processing subtracts a per-emotion neutral
    mean (the score of neutral faces) and takes a softmax over the 40 mean-subtracted scores; that softmax is the
    ``distribution`` output. ``intensity`` is ``raw`` clamped to [0, 7] with a straight-through gradient, so a head
    trained with the intensity loss never gets stuck outside the range.

    Args:
        in_features: embedding width (1152 for SigLIP2 so400m).
        num_emotions: number of emotion heads.
        hidden_dims: hidden layer widths: Small (128, 32), Large (1024, 512, 256).
        dropout: dropout between layers (training only).
        extra_dims: names of extra regression heads (valence, arousal, ...), output as ``extra`` (B, len).
    """

    def __init__(
        self,
        in_features: int,
        num_emotions: int = NUM_EMOTIONS,
        hidden_dims: tuple[int, ...] = (128, 32),
        dropout: float = 0.1,
        extra_dims: tuple[str, ...] = (),
        hidden_dim: int | None = None,
    ):
        super().__init__(in_features, num_emotions)
        if hidden_dim is not None and not hidden_dims:
            hidden_dims = (hidden_dim,)
        dims = (in_features, *hidden_dims, 1)
        self.hidden_dims = tuple(hidden_dims)
        self.extra_dims = tuple(extra_dims)
        self.heads = nn.ModuleList([_ScoreMLP(dims, dropout) for _ in range(num_emotions)])
        self.extra_heads = nn.ModuleList([_ScoreMLP(dims, dropout) for _ in extra_dims])
        self.register_buffer("neutral_means", torch.zeros(num_emotions))

    def postprocess(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        """The published post-processing of (B, 40) raw scores: neutral-mean subtraction, then softmax."""
        mean_subtracted = raw - self.neutral_means.to(raw.dtype)
        return {"mean_subtracted": mean_subtracted, "distribution": torch.softmax(mean_subtracted, dim=-1)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raw = torch.stack([h(x) for h in self.heads], dim=-1).float()
        intensity = raw + (raw.clamp(0.0, MAX_INTENSITY) - raw).detach()
        # Map the 0-7 score to the logit scale the presence calibration expects (7 * sigmoid(logit) = score).
        p = raw.detach().clamp(1e-3, MAX_INTENSITY - 1e-3) / MAX_INTENSITY
        logits = torch.log(p / (1 - p)) + (raw - raw.detach()) / MAX_INTENSITY
        out = {"raw": raw, "logits": logits, "intensity": intensity}
        out["presence_logits"] = self.presence_scale * logits + self.presence_bias
        out.update(self.postprocess(raw))
        if self.extra_heads:
            out["extra"] = torch.stack([h(x) for h in self.extra_heads], dim=-1).float()
        return out


HEADS.register("mlp", MLPHead)
HEADS.register("linear", LinearHead)
HEADS.register("per-emotion", PerEmotionHead)


def create_head(name: str, in_features: int, num_emotions: int = NUM_EMOTIONS, **kwargs) -> EmotionHead:
    """Build a registered head (``emozoo.heads.HEADS.names()``)."""
    return HEADS.get(name)(in_features, num_emotions, **kwargs)
