"""The public face of emozoo.metrics: exports, docstring examples, torchmetrics conventions, no Lightning."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
from metric_helpers import tied_ints

import emozoo.commands.agreement as agreement_cmd
import emozoo.metrics as M

MODULES = ["spearman", "kappa", "krippendorff", "ranks", "agreement", "bootstrap"]


def test_exports() -> None:
    for name in ["EmotionSpearman", "WeightedKappa", "KrippendorffAlpha", "agreement_report"]:
        assert name in M.__all__ and hasattr(M, name)
    for name in ["emotion_spearman", "weighted_kappa", "krippendorff_alpha"]:
        assert callable(getattr(M, name))


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"emozoo.metrics.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("cls", [M.EmotionSpearman, M.WeightedKappa, M.KrippendorffAlpha])
def test_torchmetrics_template(cls: type) -> None:
    assert cls.is_differentiable is False and cls.higher_is_better is True and cls.full_state_update is False
    assert cls.__doc__ and "Example" in cls.__doc__ and ".. math::" in cls.__doc__


def test_forward_returns_batch_value_and_accumulates() -> None:
    rng = np.random.default_rng(0)
    t1, t2 = torch.from_numpy(tied_ints(rng, (60, 40))), torch.from_numpy(tied_ints(rng, (50, 40)))
    p1, p2 = torch.from_numpy(tied_ints(rng, (60, 40))), torch.from_numpy(tied_ints(rng, (50, 40)))
    for metric, fn in [(M.EmotionSpearman(), M.emotion_spearman), (M.WeightedKappa(), M.weighted_kappa)]:
        batch = metric(p1, t1)
        assert batch.item() == pytest.approx(fn(p1, t1).item())
        metric(p2, t2)
        assert metric.compute().item() == pytest.approx(fn(torch.cat([p1, p2]), torch.cat([t1, t2])).item())
        metric.reset()
        with pytest.raises(ValueError, match="no data"), pytest.warns(UserWarning, match="before the ``update``"):
            metric.compute()
    ratings = torch.from_numpy(tied_ints(rng, (40, 3, 40)))
    alpha = M.KrippendorffAlpha(num_values=8)
    assert alpha(ratings[:20]).item() == pytest.approx(M.krippendorff_alpha(ratings[:20]).item())
    alpha(ratings[20:])
    assert alpha.compute().item() == pytest.approx(M.krippendorff_alpha(ratings).item())


def test_metrics_never_import_lightning() -> None:
    """Pure modules: no Lightning import anywhere in emozoo.metrics or the agreement command (checked in the AST,
    since other tests in the same session may have imported Lightning already)."""
    files = [*Path(M.__file__).parent.glob("*.py"), Path(agreement_cmd.__file__)]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.split(".")[0] in ("lightning", "pytorch_lightning")], path
