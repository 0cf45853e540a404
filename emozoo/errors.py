"""Errors a user can act on. The CLI and ``train.py`` print them as one line, without a traceback."""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "EmozooError", "WeightsError"]


class EmozooError(Exception):
    """Base class: the message names the file, key or value and what to do about it."""


class ConfigError(EmozooError, ValueError):
    """A config key, type or value is wrong."""


class DataError(EmozooError):
    """Shards or labels are missing, empty or broken."""


class WeightsError(EmozooError):
    """Weights are missing, unsafe or do not match the model."""
