"""A comparison's files on disk: ``plan.json`` (a ``ComparePlan``) and ``results/<backbone>.json``, checked when
read back.

Other processes (array tasks on other nodes, an earlier run of the command) wrote them, so they are validated
before use: a file that does not parse or has the wrong shape is reported by name, never trusted.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from emozoo.errors import EmozooError

__all__ = ["ComparePlan", "finished", "read_plan", "read_result", "result_path", "write_plan", "write_result"]

STATUSES = ("finished", "failed")


@dataclass
class ComparePlan:
    """What every task of a comparison runs; saved as ``<out_dir>/plan.json``."""

    backbones: list[str]
    experiment: str | None
    overrides: list[str]  # the user's, without the keys the cluster sets
    launch: list[str]  # the cluster's trainer settings and resume=auto
    name: str  # the compared recipe's name; backbone b runs as <name>-<b>
    version: str  # every backbone's run version
    out_dir: str
    job_name: str
    log_dir: str
    array_job_id: str | None = None  # set once submitted
    array_tasks: list[int] = field(default_factory=list)  # the indices the last submission ran

    def task_overrides(self, index: int) -> list[str]:
        from emozoo.compare import backbone_overrides

        return [*self.overrides, *backbone_overrides(self.backbones[index], self.name), *self.run_overrides()]

    def run_overrides(self) -> list[str]:
        return [f"version={self.version}", *self.launch]

    def log(self, index: int) -> str | None:
        if self.array_job_id is None:
            return None
        return f"{self.log_dir}/{self.job_name}-{self.array_job_id}_{index}.out"


def _write_json(path: Path, data: Any) -> None:
    """Write through a temp file and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def write_plan(path: Path, plan: ComparePlan) -> None:
    _write_json(path, asdict(plan))


def read_plan(path: str | Path) -> ComparePlan:
    """Load and check a ``plan.json``.

    Raises:
        EmozooError: missing, not JSON, or not a plan (names the file and the key).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise EmozooError(f"comparison plan {path}: cannot read it ({err}); submit again") from None
    names = {f.name for f in fields(ComparePlan)}
    if not isinstance(data, dict) or not set(data) <= names:
        raise EmozooError(f"comparison plan {path}: not a plan written by emozoo compare (keys {sorted(data)[:5]})")
    try:
        plan = ComparePlan(**data)
    except TypeError as err:
        raise EmozooError(f"comparison plan {path}: {err}") from None
    if not (isinstance(plan.backbones, list) and all(isinstance(b, str) and b for b in plan.backbones)):
        raise EmozooError(f"comparison plan {path}: 'backbones' must be a list of names")
    if not all(isinstance(i, int) and 0 <= i < len(plan.backbones) for i in plan.array_tasks):
        raise EmozooError(f"comparison plan {path}: 'array_tasks' must index 'backbones'")
    return plan


def result_path(out_dir: Path, backbone: str) -> Path:
    return out_dir / "results" / (re.sub(r"[^\w.-]", "_", backbone) + ".json")


def write_result(out_dir: Path, row: dict[str, Any]) -> Path:
    path = result_path(out_dir, row["backbone"])
    _write_json(path, row)
    return path


def _number_ok(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def read_result(out_dir: Path, backbone: str) -> dict[str, Any] | None:
    """The backbone's result row; None when there is none.

    Raises:
        EmozooError: the file exists but is not a valid row for this backbone (names the file and the key).
    """
    from emozoo.compare import SUMMARY_KEYS

    path = result_path(out_dir, backbone)
    if not path.is_file():
        return None
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise EmozooError(f"{path}: not a result file ({err})") from None
    if not isinstance(row, dict) or row.get("backbone") != backbone or row.get("status") not in STATUSES:
        raise EmozooError(f"{path}: not a result for backbone {backbone!r} with a status in {STATUSES}")
    numbers = [k for k in SUMMARY_KEYS if k not in ("report", "run_dir", "model_dir", "spearman_ci")]
    bad = [k for k in [*numbers, "images_per_second"] if not _number_ok(row.get(k))]
    ci = row.get("spearman_ci")
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(_number_ok(v) for v in ci)):
        bad.append("spearman_ci")
    if bad:
        raise EmozooError(f"{path}: key {bad[0]!r} is not a finite number")
    return row


def finished(out_dir: Path, backbone: str) -> bool:
    """Whether the backbone has a finished result whose report is still there (a bad file counts as unfinished)."""
    try:
        row = read_result(out_dir, backbone)
    except EmozooError:
        return False
    return bool(row and row["status"] == "finished" and row.get("report") and Path(row["report"]).is_file())
