"""Inference: a trained model on images (``predict``) or on a rated shard split (``evaluate``).

``predict`` gives one ``FacePrediction`` per face (``model.predict`` and ``emozoo predict`` share its code path);
``evaluate`` gives the agreement report ``emozoo eval`` prints. Both run batches through ``emozoo.scoring`` on the
device the model is on (``emozoo.devices``). Modules:

- ``inputs``: files, folders, globs, shards and in-memory images to batches of crops, decoded in workers;
- ``crops``: the crop stage (``face_cropper``: whole images, or faces once the detector is installed);
- ``records``: ``FacePrediction``, the record ``emozoo predict`` writes;
- ``loading``: models by name or folder, on a device;
- ``predicting`` / ``evaluating``: the two library functions the commands call.
"""

from __future__ import annotations

from emozoo.devices import PRECISIONS, autocast, resolve_device
from emozoo.inference.crops import FACE_MODES, Crop, face_cropper
from emozoo.inference.evaluating import evaluate
from emozoo.inference.inputs import IMAGE_EXTS, Inputs, collect_inputs, image_loaders
from emozoo.inference.loading import load_for_inference
from emozoo.inference.predicting import PredictSummary, Skipped, predict, predict_files, predict_stream
from emozoo.inference.records import FacePrediction

__all__ = [
    "FACE_MODES",
    "IMAGE_EXTS",
    "PRECISIONS",
    "Crop",
    "FacePrediction",
    "Inputs",
    "PredictSummary",
    "Skipped",
    "autocast",
    "collect_inputs",
    "evaluate",
    "face_cropper",
    "image_loaders",
    "load_for_inference",
    "predict",
    "predict_files",
    "predict_stream",
    "resolve_device",
]
