"""Agreement metrics of the EmoNet-Face protocol, as torchmetrics with functional twins, and the report.

| metric | class | functional | reference it matches |
|---|---|---|---|
| Spearman ρ per emotion | ``EmotionSpearman`` | ``emotion_spearman`` | ``scipy.stats.spearmanr`` |
| weighted κ per emotion | ``WeightedKappa`` | ``weighted_kappa`` | ``sklearn.metrics.cohen_kappa_score`` |
| Krippendorff's α | ``KrippendorffAlpha`` | ``krippendorff_alpha`` | ``krippendorff.alpha`` |

Each class reduces over emotions by ``average`` (``"macro"`` mean, ``"micro"`` pooled where it exists,
``"none"``) and has ``compute_per_output()``. ``agreement_report`` runs the paper's whole protocol for a model;
``interrater_agreement_sparse`` the raters-only part for an annotation table, from one entry per rating (α via
``krippendorff_alpha_units``); both aggregate κ over (rater pair, emotion) units as the authors' notebook does,
and ``mann_whitney`` is their test, with a verdict in words. Pure
modules: nothing here imports Lightning; matplotlib is imported only when a report is written to disk.
"""

from emozoo.metrics._utils import UndefinedMetricWarning
from emozoo.metrics.agreement import agreement_report, mann_whitney
from emozoo.metrics.interrater import interrater_agreement, interrater_agreement_sparse
from emozoo.metrics.kappa import WeightedKappa, weighted_kappa
from emozoo.metrics.krippendorff import KrippendorffAlpha, krippendorff_alpha, krippendorff_alpha_units
from emozoo.metrics.spearman import EmotionSpearman, emotion_spearman

__all__ = [
    "EmotionSpearman",
    "KrippendorffAlpha",
    "UndefinedMetricWarning",
    "WeightedKappa",
    "agreement_report",
    "emotion_spearman",
    "interrater_agreement",
    "interrater_agreement_sparse",
    "krippendorff_alpha",
    "krippendorff_alpha_units",
    "mann_whitney",
    "weighted_kappa",
]
