"""A training run prints our progress, stage lines and result, and no library advertising or deprecation noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emozoo.quiet import LIGHTNING_CHATTER
from tests.conftest import tiny_run_overrides

REPO = Path(__file__).resolve().parents[1]

NOISE = (
    *LIGHTNING_CHATTER,
    "litlogger",
    "litmodels",
    ".with_length() only sets",  # webdataset
    "LeafSpec",  # torch's deprecation, raised inside Lightning
    "FutureWarning",
    "DeprecationWarning",
)


@pytest.mark.slow
@pytest.mark.timeout(900)  # a subprocess that imports torch and trains: minutes on a busy 2-core box
def test_a_training_run_prints_no_library_noise(tiny_data, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "smoke", *tiny_run_overrides(tiny_data, tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for noise in NOISE:
        assert noise not in out, f"{noise!r} in the output:\n{out[-3000:]}"
    for ours in ("[emozoo] stage 'pretrain-big'", "[emozoo] stage 'finetune-binary'", "[emozoo] report: "):
        assert ours in out, out[-3000:]
