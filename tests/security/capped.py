"""Run Python code in a child process whose address space is capped with ``setrlimit(RLIMIT_AS)``.

The cap is set after ``torch`` and ``emozoo`` are imported (their mappings are the baseline), so it bounds what the
code under test allocates. The child prints one JSON object on its last line; a child killed by the cap, or one
that dies with a traceback, shows up as a non-zero return code and its stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PRELUDE = """
import json, resource, sys
import torch
import emozoo, emozoo.zoo
from emozoo.errors import EmozooError

def _vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")

LIMIT = _vm_bytes() + int(sys.argv[1]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
"""


def run_capped(code: str, extra_mb: int, *args: str, timeout: float = 600):
    """Run ``code`` (which prints a JSON object last) with ``extra_mb`` MiB above the import baseline; ``args``
    are ``sys.argv[2:]``. Fails the test when the child dies (a traceback, or killed by the cap)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    script = _PRELUDE + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", script, str(extra_mb), *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    last = (proc.stderr.strip().splitlines() or ["?"])[-1][:500]
    assert proc.returncode == 0, f"the child died instead of giving a one-line error (rc {proc.returncode}): {last}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


LOAD_EACH = """
out = []
for folder in sys.argv[2:]:
    try:
        emozoo.load_model(folder)
        out.append({"loaded": True})
    except EmozooError as err:
        out.append({"loaded": False, "type": type(err).__name__, "message": str(err)})
print(json.dumps(out))
"""


def load_capped(folders: list[Path], extra_mb: int = 1024) -> list[dict]:
    """``emozoo.load_model`` of each folder in one capped child: ``{"loaded": True}`` or the emozoo error's type
    and message, per folder."""
    return run_capped(LOAD_EACH, extra_mb, *map(str, folders))
