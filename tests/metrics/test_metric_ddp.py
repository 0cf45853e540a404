"""Two CPU processes (gloo) give the single-process result on the union of their data, for all three metrics."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from metric_helpers import tied_ints

from emozoo.metrics import EmotionSpearman, KrippendorffAlpha, WeightedKappa

N_ITEMS, N_OUT, N_RATERS = 200, 5, 4
SPLIT = 37  # uneven: rank 0 gets 37 items in one batch, rank 1 the other 163 in three


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    target = tied_ints(rng, (N_ITEMS, N_OUT))
    target[rng.random(target.shape) < 0.2] = np.nan
    preds = np.clip(np.nan_to_num(target) + rng.normal(0, 1.5, target.shape), 0, 7)
    ratings = np.clip(tied_ints(rng, (N_ITEMS, 1, N_OUT)) + rng.integers(-1, 2, (N_ITEMS, N_RATERS, N_OUT)), 0, 7)
    ratings[rng.random(ratings.shape) < 0.3] = np.nan
    return torch.from_numpy(preds), torch.from_numpy(target), torch.from_numpy(ratings.astype(np.float64))


def _metrics(**kwargs: object) -> dict[str, torch.nn.Module]:
    return {
        "spearman": EmotionSpearman(num_outputs=N_OUT, average="none", **kwargs),
        "kappa": WeightedKappa(num_outputs=N_OUT, average="none", **kwargs),
        "alpha_ordinal": KrippendorffAlpha("ordinal", num_outputs=N_OUT, num_values=8, average="none", **kwargs),
        "alpha_interval": KrippendorffAlpha("interval", num_outputs=N_OUT, average="micro", **kwargs),
    }


def _update(metrics: dict, preds: torch.Tensor, target: torch.Tensor, ratings: torch.Tensor, batches: int) -> None:
    for idx in torch.tensor_split(torch.arange(len(preds)), batches):
        metrics["spearman"].update(preds[idx], target[idx])
        metrics["kappa"].update(preds[idx], target[idx])
        metrics["alpha_ordinal"].update(ratings[idx])
        metrics["alpha_interval"].update(ratings[idx])


def _worker(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        preds, target, ratings = _data()
        part = slice(0, SPLIT) if rank == 0 else slice(SPLIT, None)
        metrics = _metrics()
        _update(metrics, preds[part], target[part], ratings[part], batches=1 if rank == 0 else 3)
        result = {name: m.compute() for name, m in metrics.items()}
        result.update({f"{name}_per_output": m.compute_per_output() for name, m in metrics.items()})
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_two_process_ddp_equals_single_process(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    preds, target, ratings = _data()
    single = _metrics()
    _update(single, preds, target, ratings, batches=2)
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for name, m in single.items():
            want, want_per = m.compute(), m.compute_per_output()
            if name in ("spearman", "kappa"):  # concatenation order and integer counts: bit-identical
                torch.testing.assert_close(got[name], want, rtol=0, atol=0, equal_nan=True)
            else:  # float sums of per-rank partials: equal up to summation order
                torch.testing.assert_close(got[name], want, rtol=0, atol=1e-12, equal_nan=True)
            torch.testing.assert_close(got[f"{name}_per_output"], want_per, rtol=0, atol=1e-12, equal_nan=True)
