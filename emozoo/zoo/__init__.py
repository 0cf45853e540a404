"""The checkpoint zoo: our model-folder format (``format``, ``schema``), ``load_model``, the manifest and the
Empathic-Insight importer.

Public: ``list_checkpoints``, ``load_model``, ``save_pretrained``, ``load_empathic_insight``, ``export_checkpoint``.
"""

from __future__ import annotations

from emozoo.zoo.empathic import load_empathic_insight
from emozoo.zoo.export import export_checkpoint
from emozoo.zoo.format import save_pretrained
from emozoo.zoo.manifest import list_checkpoints
from emozoo.zoo.pretrained import load_model

__all__ = ["export_checkpoint", "list_checkpoints", "load_empathic_insight", "load_model", "save_pretrained"]
