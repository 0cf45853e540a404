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


def intensity_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error on the 0–1 rescaled intensity, over entries where ``mask`` is true.

    Rescaling by 1/7 keeps the loss on the same scale as the binary and distribution losses.

    Args:
        pred: (B, 40) predicted intensities in [0, 7].
        target: (B, 40) target intensities in [0, 7]; values under a false mask are ignored (may be NaN).
        mask: (B, 40) bool or 0/1.
    """
    mask = mask.to(pred.dtype)
    target = torch.where(mask.bool(), target, pred.detach())  # keep NaN out of the graph
    err = ((pred - target) / MAX_INTENSITY) ** 2
    return _masked_mean(err, mask)


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
        terms["intensity"] = intensity_loss(out["intensity"], batch["intensity"], batch["intensity_mask"])
    if weights.get("binary", 0.0):
        terms["binary"] = binary_loss(out["presence_logits"], batch["binary_yes"], batch["binary_n"])
    if weights.get("distribution", 0.0):
        terms["distribution"] = distribution_loss(out["distribution"], batch["distribution"], batch["distribution_mask"])
    terms["loss"] = sum(weights[k] * v for k, v in terms.items())
    return terms
