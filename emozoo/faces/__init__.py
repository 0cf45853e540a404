"""Faces in any photo or video frame: detection, alignment to an EmoNet-Face-style close-up, tracking, drawing.

``crop_faces(image, "all")`` is the one call the predict path needs; the pieces are public for other uses.
"""

from emozoo.faces.align import FACE_MODES, Crop, align_face, alignment_matrix, crop_faces
from emozoo.faces.annotate import annotate
from emozoo.faces.detector import DetectedFace, FaceDetector, get_detector, list_detectors
from emozoo.faces.timeline import plot_timeline
from emozoo.faces.track import IoUTracker, faces_in_video

__all__ = [
    "FACE_MODES",
    "Crop",
    "DetectedFace",
    "FaceDetector",
    "IoUTracker",
    "align_face",
    "alignment_matrix",
    "annotate",
    "crop_faces",
    "faces_in_video",
    "get_detector",
    "list_detectors",
    "plot_timeline",
]
