"""Our MTCNN against facenet-pytorch's, whose weights we ship (outputs recorded from its wheel; it pins torch<2.3).

One deliberate difference: where a candidate box crosses the image border, facenet-pytorch crops the part inside
the image and stretches it to the net's input size, while we pad with zeros as the original MTCNN release does
(so a face at the edge keeps its shape). The first test swaps in facenet-pytorch's crop to compare everything
else exactly; the second checks that with our padding the same faces come out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emozoo.faces import mtcnn
from tests.faces.scenes import astronaut, box_iou, scene, synthface

REFERENCE = json.loads((Path(__file__).parent / "assets" / "mtcnn_reference.json").read_text())


def _images():
    a, s = astronaut(), synthface(0)
    return {
        "astronaut": a.image,
        "scene": scene([(a, 120, 0, (150, 150)), (a, 200, 30, (450, 300)), (s, 150, 20, (200, 470))], size=(640, 640))[
            0
        ],
    }


def _facenet_crops(img: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """facenet-pytorch's crop: truncate, clip to the image (1-based, as MATLAB), stretch what is left."""
    h, w = img.shape[-2:]
    out = []
    for x0, y0, x1, y1 in boxes.trunc().long().tolist():
        x0, y0, x1, y1 = max(x0, 1), max(y0, 1), min(x1, w), min(y1, h)
        out.append(F.interpolate(img[:, :, y0 - 1 : y1, x0 - 1 : x1], size=(size, size), mode="area"))
    return torch.cat(out)


def _matched(boxes, ref):
    for k, rbox in enumerate(ref["boxes"]):
        i = max(range(len(boxes)), key=lambda j: box_iou(boxes[j], rbox))
        yield i, k, rbox[2] - rbox[0]


@pytest.mark.parametrize("name", ["astronaut", "scene"])
def test_cascade_matches_facenet_pytorch(name, monkeypatch):
    monkeypatch.setattr(mtcnn, "_crops", _facenet_crops)
    ref = REFERENCE["images"][name]
    boxes, points, scores = mtcnn.MTCNN(min_face=32).detect(np.asarray(_images()[name]))
    assert len(boxes) == len(ref["boxes"])
    for i, k, side in _matched(boxes, ref):
        # the remaining ~1-3 px: P-Net cells are mapped to boxes 0-based here, 1-based there
        assert np.abs(boxes[i] - ref["boxes"][k]).max() < 0.04 * side, (boxes[i], ref["boxes"][k])
        assert np.abs(points[i] - np.array(ref["landmarks"][k])).max() < 0.04 * side
        assert abs(scores[i] - ref["scores"][k]) < 0.01


@pytest.mark.slow
def test_zero_padding_finds_the_same_faces():
    for name, image in _images().items():
        ref = REFERENCE["images"][name]
        boxes, points, _ = mtcnn.MTCNN(min_face=32).detect(np.asarray(image))
        assert len(boxes) == len(ref["boxes"])
        for i, k, side in _matched(boxes, ref):
            assert box_iou(boxes[i], ref["boxes"][k]) > 0.8
            assert np.abs(points[i] - np.array(ref["landmarks"][k])).max() < 0.1 * side
