"""``emozoo --help`` start-up vs ``python -c "import torch"``, measured side by side in one run (goal: ≤ 0.2×).

``emozoo --help`` lists the subcommands from the table in ``emozoo.cli`` without importing any command module, so
it pays for Python, argparse and ``emozoo.taxonomy`` only. For scale, the third column imports every command module,
which is what listing the subcommands cost before the table was lazy. Each command runs ``--repeats`` times,
interleaved (so a busy machine slows all three alike); the medians are compared.

    python bench/cli_startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import cpu_name  # noqa: E402  (bench/ is on sys.path when a script runs)

REPO = Path(__file__).resolve().parents[1]

EAGER = (
    "import importlib; from emozoo.cli import COMMANDS\n"
    "for module, _ in COMMANDS.values(): importlib.import_module(f'emozoo.commands.{module}')"
)
CASES = {
    "emozoo --help": [sys.executable, "-m", "emozoo.cli", "--help"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "import every command (old --help)": [sys.executable, "-c", EAGER],
}


def time_once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for cmd in CASES.values():  # warm the file cache: the first start-up reads every .py and .so from disk
        time_once(cmd)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, cmd in CASES.items():
            times[name].append(time_once(cmd))
    median = {name: statistics.median(t) for name, t in times.items()}
    torch_s = median['python -c "import torch"']
    print(f"CPU: {cpu_name()}, {args.repeats} runs each, interleaved; Python {platform.python_version()}")
    print(f"{'command':<36} {'median s':>9} {'min s':>7} {'vs import torch':>16}")
    for name, t in times.items():
        print(f"{name:<36} {median[name]:>9.3f} {min(t):>7.3f} {median[name] / torch_s:>15.2f}×")
    ratio = median["emozoo --help"] / torch_s
    print(f"emozoo --help / import torch = {ratio:.2f}× (goal ≤ 0.2×): {'ok' if ratio <= 0.2 else 'MISSED'}")


if __name__ == "__main__":
    main()
