"""Files shipped inside the package: the experiment configs (``emozoo/configs/``) and the zoo manifest
(``emozoo/assets/zoo.yaml``), found with ``importlib.resources`` so an installed wheel works outside a checkout.

A checkout keeps one copy of each: its top-level ``configs`` and ``checkpoints/zoo.yaml`` are symlinks into the
package, so ``python train.py configs/experiment/smoke.yaml`` and the installed package read the same files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from emozoo.errors import EmozooError

__all__ = ["packaged_path"]


def packaged_path(*parts: str) -> Path:
    """The filesystem path of ``emozoo/<parts...>`` as installed (it need not exist; callers check).

    Raises:
        EmozooError: emozoo is imported from a zip archive, whose files have no path to glob or layer.
    """
    root = resources.files("emozoo")
    if not isinstance(root, Path):
        raise EmozooError(f"emozoo is imported from an archive ({root}); install it as files: pip install emozoo")
    return root.joinpath(*parts)
