"""Key and type checks behind ``emozoo.config``: turn OmegaConf failures into one-line, actionable errors."""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from difflib import get_close_matches
from typing import Any

from omegaconf import DictConfig, ListConfig
from omegaconf.errors import OmegaConfBaseException

from emozoo.errors import ConfigError

__all__ = [
    "all_keys",
    "check_finite",
    "check_key_path",
    "check_keys",
    "check_no_resolvers",
    "has_resolver",
    "wrap_omegaconf_error",
]

# OmegaConf's grammar for a resolver call: ``${name:args}`` (``oc.env``, ``oc.decode``, ``oc.select``, any resolver
# some library registered). A plain reference to another key, ``${optim.lr}``, has no colon after the name.
_RESOLVER = re.compile(r"\$\{\s*[\w.\-]+\s*:")


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


def has_resolver(text: str) -> bool:
    """Whether ``text`` calls an OmegaConf resolver (``${oc.env:X}``, ``${anything:...}``)."""
    return bool(_RESOLVER.search(text))


def _walk(node: Any, prefix: str = ""):
    """(dotted key, leaf value) pairs of a plain container, lists as ``key[i]``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{prefix}{key}.")
            if has_resolver(str(key)):
                yield f"{prefix}{key}", str(key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{prefix.rstrip('.')}[{i}].")
    else:
        yield prefix.rstrip("."), node


def check_no_resolvers(cfg: DictConfig | ListConfig, source: str) -> None:
    """Raise ``ConfigError`` at the first value of ``cfg`` that calls a resolver; nothing is resolved to find it.

    Resolvers read the environment (``oc.env``) or run whatever a library registered, so an untrusted file could
    copy a secret into the run's name and from there into a model card someone publishes.
    """
    from omegaconf import OmegaConf

    for key, value in _walk(OmegaConf.to_container(cfg, resolve=False)):
        if isinstance(value, str) and has_resolver(value):
            raise ConfigError(
                f"{source}: config key '{key}' uses a resolver ({value[:60]!r}); resolvers that read the environment "
                "or files are disabled in experiment files and overrides: write the value itself"
            )


def check_finite(cfg: DictConfig, source: str) -> None:
    """Raise ``ConfigError`` at the first NaN or infinite number in ``cfg`` (references are not resolved)."""
    from omegaconf import OmegaConf

    for key, value in _walk(OmegaConf.to_container(cfg, resolve=False)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{source}: config key '{key}' is {value}; give a finite number")
