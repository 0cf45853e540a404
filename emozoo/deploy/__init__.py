"""Deployment without PyTorch: ONNX export (``export_onnx``) and onnxruntime inference (``load_onnx_model``).

Needs the ``[onnx]`` extra (``pip install emozoo[onnx]``): onnx, onnxruntime and onnxscript (torch's dynamo
exporter). Names load lazily, so importing the package costs nothing without them.
"""

from __future__ import annotations

__all__ = ["OrtEmotionModel", "export_onnx", "load_onnx_model"]


def __getattr__(name: str):
    if name == "export_onnx":
        from emozoo.deploy.onnx_export import export_onnx

        return export_onnx
    if name in ("OrtEmotionModel", "load_onnx_model"):
        from emozoo.deploy import ort_model

        return getattr(ort_model, name)
    raise AttributeError(f"module 'emozoo.deploy' has no attribute {name!r}")
