"""Key and type checks behind ``emozoo.config``: turn OmegaConf failures into one-line, actionable errors."""

from __future__ import annotations

import dataclasses
import typing
from difflib import get_close_matches
from typing import Any

from omegaconf import DictConfig, ListConfig
from omegaconf.errors import OmegaConfBaseException

from emozoo.errors import ConfigError

__all__ = ["all_keys", "check_key_path", "check_keys", "wrap_omegaconf_error"]


def _dataclass_of(tp: Any) -> type | None:
    """The dataclass inside ``tp`` (``X``, ``X | None``, ``list[X]``), else None."""
    if dataclasses.is_dataclass(tp):
        return tp
    for arg in typing.get_args(tp):
        found = _dataclass_of(arg)
        if found is not None:
            return found
    return None


def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def all_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of a config dataclass tree, e.g. ``trainer.precision``."""
    keys = []
    for name, tp in _fields(cls).items():
        keys.append(prefix + name)
        sub = _dataclass_of(tp)
        if sub is not None:
            keys.extend(all_keys(sub, f"{prefix}{name}."))
    return keys


def _suggest(key: str, valid: list[str], root: type, prefix: str) -> str:
    close = get_close_matches(key, valid, n=1, cutoff=0.5)
    if close:
        return f" Did you mean '{prefix}{close[0]}'?"
    # The user may have put a key at the wrong level (lr=... instead of optim.lr=...).
    elsewhere = [k for k in all_keys(root) if k.rsplit(".", 1)[-1] == key]
    if not elsewhere:
        leaves = {k.rsplit(".", 1)[-1]: k for k in all_keys(root)}
        near = get_close_matches(key, list(leaves), n=1, cutoff=0.6)
        elsewhere = [leaves[near[0]]] if near else []
    return f" Did you mean '{elsewhere[0]}'?" if elsewhere else f" Valid keys here: {', '.join(valid)}."


def check_keys(cfg: Any, cls: type, source: str, prefix: str = "", root: type | None = None) -> None:
    """Raise ``ConfigError`` for the first key of ``cfg`` that ``cls`` does not declare."""
    root = root or cls
    if isinstance(cfg, ListConfig):
        for i, item in enumerate(cfg):
            check_keys(item, cls, source, f"{prefix.rstrip('.')}[{i}].", root)
        return
    if not isinstance(cfg, DictConfig):
        return
    fields = _fields(cls)
    for key in cfg:
        key = str(key)
        if key not in fields:
            hint = _suggest(key, list(fields), root, prefix)
            raise ConfigError(f"{source}: unknown config key '{prefix}{key}'.{hint}")
        sub = _dataclass_of(fields[key])
        if sub is not None:
            value = cfg._get_node(key)
            if isinstance(value, (DictConfig, ListConfig)):
                check_keys(value, sub, source, f"{prefix}{key}.", root)


def check_key_path(key: str, cls: type, source: str) -> None:
    """Raise ``ConfigError`` if the dotted ``key`` (list indices allowed: ``stages.0.lr``) is not declared."""
    current: type | None = cls
    done: list[str] = []
    for part in key.split("."):
        if part.isdigit() and done:  # an index into a list of dataclasses keeps the element type
            done[-1] += f"[{part}]"
            continue
        if current is None:  # below a plain dict (e.g. model_args): anything goes
            return
        fields = _fields(current)
        prefix = ".".join(done) + "." if done else ""
        if part not in fields:
            hint = _suggest(part, list(fields), cls, prefix)
            raise ConfigError(f"{source}: unknown config key '{prefix}{part}'.{hint}")
        current = _dataclass_of(fields[part])
        done.append(part)


def wrap_omegaconf_error(err: OmegaConfBaseException, source: str) -> ConfigError:
    """A one-line ``ConfigError`` naming the key, the bad value and the expected type."""
    key = getattr(err, "full_key", None) or "?"
    msg = str(err).splitlines()[0]
    return ConfigError(f"{source}: bad value for config key '{key}': {msg}")
