"""Masked losses against values computed by hand."""

from __future__ import annotations

import math

import torch

from emozoo.losses import binary_loss, distribution_loss, intensity_loss, total_loss


def _kl_bernoulli(t: float, p: float) -> float:
    xlogx = lambda a, b: 0.0 if a == 0 else a * math.log(a / b)  # noqa: E731
    return xlogx(t, p) + xlogx(1 - t, 1 - p)


def test_intensity_loss_only_counts_masked_entries():
    logits = torch.tensor([[0.0, 5.0, 2.0], [1.0, -1.0, -3.0]])
    target = torch.tensor([[0.0, float("nan"), 3.5], [1.0, 2.0, 7.0]])
    mask = torch.tensor([[True, False, True], [False, False, True]])
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    expected = (_kl_bernoulli(0.0, sig(0.0)) + _kl_bernoulli(0.5, sig(2.0)) + _kl_bernoulli(1.0, sig(-3.0))) / 3
    assert math.isclose(intensity_loss(logits, target, mask).item(), expected, rel_tol=1e-6)


def test_intensity_loss_is_zero_at_the_target_and_does_not_saturate():
    target = torch.tensor([[0.7, 3.5, 6.3]])
    logits = torch.logit(target / 7).requires_grad_(True)
    assert intensity_loss(logits, target, torch.ones(1, 3)).item() < 1e-6
    # A saturated wrong prediction still gets a full-size gradient (squared error through a sigmoid would not).
    z = torch.tensor([[-12.0]], requires_grad=True)
    intensity_loss(z, torch.tensor([[7.0]]), torch.ones(1, 1)).backward()
    assert z.grad.abs().item() > 0.99


def test_all_masked_is_zero_with_zero_grad():
    pred = torch.randn(2, 40, requires_grad=True)
    loss = intensity_loss(pred, torch.full((2, 40), float("nan")), torch.zeros(2, 40, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(pred.grad == 0)
    logits = torch.randn(2, 40, requires_grad=True)
    lb = binary_loss(logits, torch.zeros(2, 40), torch.zeros(2, 40))
    lb.backward()
    assert lb.item() == 0.0 and torch.all(logits.grad == 0)


def test_binary_loss_is_binomial_nll_per_answer():
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    yes = torch.tensor([[1.0, 1 / 3, 0.0]])
    n = torch.tensor([[1.0, 3.0, 0.0]])  # third emotion was not queried
    p1, p2 = 0.5, 1 / (1 + math.exp(-2.0))
    # rater answers: 1 yes on emotion 0; 1 yes + 2 no on emotion 1 -> 4 answers in total
    nll = -math.log(p1) - (math.log(p2) + 2 * math.log(1 - p2))
    assert math.isclose(binary_loss(logits, yes, n).item(), nll / 4, rel_tol=1e-6)


def test_distribution_loss_is_kl():
    target = torch.tensor([[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    pred = torch.tensor([[0.25, 0.25, 0.5], [0.2, 0.3, 0.5]])
    mask = torch.tensor([True, False])
    expected = 0.5 * math.log(0.5 / 0.25) * 2  # 0 log 0 = 0 for the third entry
    assert math.isclose(distribution_loss(pred, target, mask).item(), expected, rel_tol=1e-6)
    assert distribution_loss(target, target, torch.tensor([True, True])).item() < 1e-7


def test_total_loss_weights_terms():
    out = {
        "logits": torch.zeros(1, 40),
        "presence_logits": torch.zeros(1, 40),
        "distribution": torch.full((1, 40), 1 / 40),
    }
    batch = {
        "intensity": torch.zeros(1, 40),
        "intensity_mask": torch.ones(1, 40, dtype=torch.bool),
        "binary_yes": torch.ones(1, 40),
        "binary_n": torch.ones(1, 40),
        "distribution": torch.full((1, 40), 1 / 40),
        "distribution_mask": torch.tensor([True]),
    }
    terms = total_loss(out, batch, {"intensity": 2.0, "binary": 1.0, "distribution": 0.0})
    assert set(terms) == {"intensity", "binary", "loss"}
    # logits 0 -> p = 0.5 against t = 0: KL = log 2; binary: BCE(0, 1) = log 2
    assert math.isclose(terms["loss"].item(), 2 * math.log(2) + math.log(2), rel_tol=1e-6)
