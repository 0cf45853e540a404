"""Masked losses for the three EmoNet-Face label protocols.

Each label protocol constrains only some emotions of some images, so every loss takes a mask and averages over
the labelled entries only; an all-masked batch contributes exactly zero (and a zero gradient), not NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from emozoo.heads import MAX_INTENSITY

__all__ = ["binary_loss", "distribution_loss", "intensity_loss"]


def _masked_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (values * weight).sum() / weight.sum().clamp(min=1.0)


def intensity_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fractional-logit loss on the 0–7 intensity, over entries where ``mask`` is true.

    The head predicts ``intensity = 7 * sigmoid(logits)``. Squared error through that sigmoid vanishes once a
    logit saturates, and with mostly-zero targets (most emotions are absent from most faces) every logit is pushed
    into saturation early and the network stops learning. Instead, ``t = target / 7`` is treated as the mean of a
    Bernoulli variable (a fractional-response quasi-likelihood): the loss is ``KL(Bern(t) || Bern(sigmoid(z)))``,
    i.e. binary cross-entropy minus the target's own entropy, so it is 0 at a perfect prediction and its gradient
    ``(sigmoid(z) - t) / n`` never vanishes while the prediction is wrong. Its minimiser is still the conditional
    mean intensity.

    Args:
        logits: (B, 40) intensity logits from the head (``out["logits"]``).
        target: (B, 40) target intensities in [0, 7]; values under a false mask are ignored (may be NaN).
        mask: (B, 40) bool or 0/1.
    """
    mask = mask.to(logits.dtype)
    t = torch.where(mask.bool(), target / MAX_INTENSITY, torch.zeros_like(target)).clamp(0.0, 1.0)
    bce = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
    entropy = -(torch.xlogy(t, t) + torch.xlogy(1 - t, 1 - t))
    return _masked_mean(bce - entropy, mask)


def binary_loss(presence_logits: torch.Tensor, yes_fraction: torch.Tensor, num_raters: torch.Tensor) -> torch.Tensor:
    """Binomial log-likelihood of the experts' yes/no answers.

    A queried emotion answered by ``n`` raters, ``k`` of whom said yes, is a Binomial(n, p) observation with
    ``p = sigmoid(presence_logits)``. Its negative log-likelihood is, up to a constant, ``n`` times the binary
    cross-entropy with the soft target ``k / n``; so each rater's answer counts once, split votes pull ``p``
    towards the middle rather than being thrown away, and emotions nobody was asked about (``n = 0``) carry no
    weight. The loss is normalised by the number of answers in the batch.

    Args:
        presence_logits: (B, 40) log-odds that a rater says "present".
        yes_fraction: (B, 40) fraction of raters who said yes (ignored where ``num_raters == 0``).
        num_raters: (B, 40) number of raters who answered.
    """
    n = num_raters.to(presence_logits.dtype)
    target = torch.where(n > 0, yes_fraction, torch.zeros_like(yes_fraction))
    bce = F.binary_cross_entropy_with_logits(presence_logits, target, reduction="none")
    return _masked_mean(bce, n)


def distribution_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """KL(target || pred) between emotion distributions, averaged over the rows where ``mask`` is true.

    Args:
        pred: (B, 40) predicted distribution (rows sum to 1).
        target: (B, 40) target distribution: the target intensities normalised to sum to 1.
        mask: (B,) rows that have a full 40-emotion target with a non-zero sum.
    """
    mask = mask.to(pred.dtype)
    target = torch.where(mask.bool()[:, None], target, torch.full_like(target, 1.0 / target.shape[-1]))
    log_pred = torch.log(pred.clamp(min=1e-12))
    kl = F.kl_div(log_pred, target, reduction="none").sum(-1)  # sum_j t_j (log t_j - log p_j), 0 log 0 = 0
    return _masked_mean(kl, mask)


def total_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], weights: dict[str, float]) -> dict:
    """The weighted sum of the three losses, plus each term, for one batch.

    Args:
        out: the head's output dict.
        batch: targets from ``emozoo.data.schema.derive_targets``, batched.
        weights: ``{"intensity": w, "binary": w, "distribution": w}``; a zero weight skips that term.
    """
    terms = {}
    if weights.get("intensity", 0.0):
        terms["intensity"] = intensity_loss(out["logits"], batch["intensity"], batch["intensity_mask"])
    if weights.get("binary", 0.0):
        terms["binary"] = binary_loss(out["presence_logits"], batch["binary_yes"], batch["binary_n"])
    if weights.get("distribution", 0.0):
        terms["distribution"] = distribution_loss(
            out["distribution"], batch["distribution"], batch["distribution_mask"]
        )
    terms["loss"] = sum(weights[k] * v for k, v in terms.items())
    return terms
