"""The one yes/no vocabulary of every annotation reader (``emozoo agreement``, ``emozoo shards convert``).

Both readers accept exactly the same words, case-insensitively and ignoring surrounding spaces:

| meaning | words |
|---|---|
| yes | ``true``, ``yes``, ``y``, ``t``, ``1`` |
| no | ``false``, ``no``, ``n``, ``f``, ``0`` |
| not answered | the empty cell, ``nan``, ``na``, ``n/a``, ``null``, ``none`` |

Anything else is an error for a yes/no answer. Tables of numbers (ratings 0..7) go through :func:`parse_rating`,
which accepts the same yes/no words (as 1/0) and the missing words, so a table reads the same in both readers.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MISSING", "NO", "YES", "parse_rating", "parse_yes_no"]

YES = frozenset({"true", "yes", "y", "t", "1"})
NO = frozenset({"false", "no", "n", "f", "0"})
MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})


def parse_yes_no(value: Any) -> bool | None:
    """True/False from a bool, 0/1 or one of the words above; None when not answered.

    Raises:
        ValueError: any other value (the message quotes it).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if value in (0, 1):
            return bool(value)
        raise ValueError(f"not a yes/no answer: {value!r}")
    text = str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    if text in MISSING:
        return None
    raise ValueError(f"not a yes/no answer: {value!r} (use one of {', '.join(sorted(YES | NO))})")


def parse_rating(value: Any) -> float | None:
    """A finite number, a yes/no word (1.0/0.0), or None when not rated.

    Raises:
        ValueError: neither a yes/no word nor a finite number.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in MISSING:
            return None
        if text in YES or text in NO:
            return 1.0 if text in YES else 0.0
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"value {value!r} is neither a yes/no word nor a number") from None
    elif value is None:
        return None
    else:
        number = float(value)
        if math.isnan(number):
            return None
    if not math.isfinite(number):
        raise ValueError(f"value {value!r} is not a finite number")
    return number
