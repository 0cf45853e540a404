"""Faces in any photo or video frame: detection, alignment to an EmoNet-Face-style close-up, tracking, drawing.

``crop_faces(image, "all")`` is the one call the predict path needs; the pieces are public for other uses.
"""

from emozoo.faces.align import FACE_MODES, Crop, align_face, alignment_matrix, crop_faces
from emozoo.faces.detector import DetectedFace, FaceDetector, get_detector, list_detectors

__all__ = [
    "FACE_MODES",
    "Crop",
    "DetectedFace",
    "FaceDetector",
    "align_face",
    "alignment_matrix",
    "crop_faces",
    "get_detector",
    "list_detectors",
]
