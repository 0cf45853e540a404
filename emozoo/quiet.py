"""Library noise that a training run must not print: only our progress, stage lines and the result reach the user.

Each filter names one message of one library, so a new warning from the same library still shows:

- Lightning's advertising (the ``litlogger`` and ``litmodels`` tips) and the banners it logs at INFO for every
  ``Trainer`` and stage (seed, hardware, AMP, ``limit_val_batches=1.0``, ``max_steps reached``, ``weights_only``
  not set when it reloads our own checkpoint): a logging filter on the loggers that emit them;
- torch's ``FutureWarning`` that ``isinstance(treespec, LeafSpec)`` is deprecated, raised inside Lightning's own
  ``_pytree`` helper on every batch until Lightning updates it: a warnings filter on that message and category.

webdataset's ``with_length`` warning is silenced where we call it (``emozoo.data.datamodule``).
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["LIGHTNING_CHATTER", "quiet_libraries"]

# Substrings of the INFO lines Lightning prints on its own for every run; none of them is a problem to act on.
LIGHTNING_CHATTER = (
    "💡 Tip: For seamless cloud",  # litlogger / litmodels advertising
    "Seed set to ",
    "GPU available: ",
    "TPU available: ",
    "HPU available: ",
    "Automatic Mixed Precision (AMP)",
    "was configured so 100% of the batches",
    "`Trainer.fit` stopped: `max_steps=",
    "`weights_only` was not set, defaulting to",
)

# The loggers that emit them (Lightning logs through per-module loggers; the rank-zero helpers share one).
_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning_utilities.core.rank_zero",
    "lightning.fabric.utilities.seed",
    "lightning.pytorch.trainer.connectors.checkpoint_connector",
    "lightning.pytorch.trainer.connectors.accelerator_connector",
    "lightning.fabric.connector",
)


class _DropChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:  # warnings and errors always show
            return True
        message = record.getMessage()
        return not any(s in message for s in LIGHTNING_CHATTER)


_FILTER = _DropChatter("emozoo.quiet")


def quiet_libraries() -> None:
    """Install the filters above (idempotent; call before building a ``Trainer``)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    warnings.filterwarnings(
        "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
    )
