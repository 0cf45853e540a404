"""The models the app offers, and a bounded cache of the loaded ones.

The selector lists the model given on the command line first, then every zoo checkpoint whose files are here
(``emozoo.zoo.list_checkpoints``: local folders or the HF cache; nothing is downloaded). Loading is slow next to
scoring a photo, so loaded models are kept, the most recently used first, up to ``size`` of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from torch import nn

__all__ = ["ModelCache", "model_choices"]

log = logging.getLogger("emozoo.app")


def _usable(row: dict) -> bool:
    """A zoo row that can score images here: its files are present, and its encoder too where it has one."""
    return bool(row.get("present")) and row.get("encoder_present") is not False


def model_choices(given: str | Path | None = None) -> list[str]:
    """The selector's entries: ``given`` (a name or folder) first, then the zoo checkpoints present locally."""
    from emozoo.zoo import list_checkpoints

    names = [str(given)] if given is not None else []
    try:
        rows = list_checkpoints()
    except Exception as err:  # a broken user manifest must not keep the page from starting
        log.warning("emozoo app: cannot list the zoo (%s); offering the given model only", err)
        rows = []
    names += [r["name"] for r in rows if _usable(r) and r["name"] not in names]
    return names


class ModelCache:
    """Models loaded by name or folder, the ``size`` most recently used kept; safe to share between threads.

    Args:
        size: models kept loaded (at least 1).
        device: where models run (``auto``, ``cpu``, ``cuda:N``, ``mps``).
        loader: ``(name, device) -> model``; default ``emozoo.inference.load_for_inference``.
    """

    def __init__(self, size: int = 2, device: str = "auto", loader: Callable[[str, str], nn.Module] | None = None):
        if size < 1:
            raise ValueError(f"ModelCache size must be >= 1, got {size}")
        self.size, self.device = size, device
        self._loader = loader or _load
        self._models: OrderedDict[str, nn.Module] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> nn.Module:
        """The model ``name``, loaded now unless it is cached; the least recently used one is dropped past ``size``.

        Raises:
            EmozooError (or subclasses): the model cannot be loaded; the cache is left as it was.
        """
        with self._lock:  # one load at a time: two requests for a new model load it once
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            start = time.perf_counter()
            model = self._loader(name, self.device)
            log.info("emozoo app: loaded %s in %.2f s", name, time.perf_counter() - start)
            self._models[name] = model
            while len(self._models) > self.size:
                dropped, _ = self._models.popitem(last=False)
                log.info("emozoo app: dropped %s from the model cache", dropped)
            return model

    def __contains__(self, name: str) -> bool:
        return name in self._models

    def names(self) -> list[str]:
        """The cached models, least recently used first."""
        return list(self._models)


def _load(name: str, device: str) -> nn.Module:
    from emozoo.inference import load_for_inference

    return load_for_inference(name, device=device)
