"""The Mann–Whitney verdict of an agreement report in plain words: better than, worse than, or indistinguishable
from an annotator. Its own module so that the report writer (``metrics.report``) and the protocol
(``metrics.agreement``) share it without importing each other."""

from __future__ import annotations

from typing import Any

__all__ = ["verdict_sentence"]


def verdict_sentence(mw: dict[str, Any], name: str = "the model") -> str:
    """The Mann–Whitney result in words that cannot be misread."""
    if mw["direction"] is None:
        return f"not testable: {mw['n_model']} model–human and {mw['n_human']} human–human κ units"
    p = f"p = {mw['p_value']:.4g}"
    if mw["direction"] == "indistinguishable":
        return (
            f"{name} is indistinguishable from an annotator: its κ with the raters is within their κ with each "
            f"other ({p} > {mw['threshold']})"
        )
    word = "more" if mw["direction"] == "better" else "less"
    return (
        f"{name} agrees with the raters {word} than they agree with each other: {mw['direction']} than an "
        f"annotator ({p} <= {mw['threshold']}; P(model κ > human κ) = {mw['prob_model_higher']:.2f})"
    )
