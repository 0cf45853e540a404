"""MTCNN (Zhang et al., 2016): a three-stage cascade that finds faces and their five landmarks.

The networks and the cascade follow facenet-pytorch 2.6.0 (MIT), whose weights ship with emozoo in
``faces/weights/mtcnn.safetensors`` (2 MB, converted unchanged from that wheel's ``data/{p,r,o}net.pt``), so
nothing is downloaded and it runs with no network. facenet-pytorch itself is not a dependency: it pins
``torch<2.3``.

P-Net scans an image pyramid for candidate windows; R-Net rejects most of them at 24 px; O-Net scores the rest at
48 px and regresses the box and five landmarks (left eye, right eye, nose, mouth left, mouth right).

One departure from facenet-pytorch (tests/faces/test_mtcnn_reference.py compares both): a candidate window that
crosses the image border is padded with zeros, as in the original MATLAB release, rather than clipped and
stretched, so a face at the edge of a photo keeps its proportions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

__all__ = ["MTCNN", "ONet", "PNet", "RNet"]

WEIGHTS = Path(__file__).with_name("weights") / "mtcnn.safetensors"


def _conv(cin: int, cout: int, k: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(cin, cout, k), nn.PReLU(cout)


class PNet(nn.Module):
    """Fully convolutional proposal net: a 12 px window per output cell, stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(10, 16, 3)
        self.conv3, self.prelu3 = _conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.conv4_1(x).softmax(1)


class RNet(nn.Module):
    """Refinement net on 24 px crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(48, 64, 2)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # the weights came from Caffe via TensorFlow, which flatten (w, h, c): keep that order
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).flatten(1)))
        return self.dense5_2(x), self.dense5_1(x).softmax(1)


class ONet(nn.Module):
    """Output net on 48 px crops: box, five landmarks and the final score."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _conv(64, 128, 2)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))
        return self.dense6_2(x), self.dense6_3(x), self.dense6_1(x).softmax(1)


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each (x0, y0, x1, y1) box to a square about its centre."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x0, y0 = boxes[:, 0] + (w - side) / 2, boxes[:, 1] + (h - side) / 2
    return torch.stack([x0, y0, x0 + side, y0 + side], 1)


def _regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    wh = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + reg * wh


def _crops(img: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Resample each box of ``img`` (1, 3, H, W) to ``size``; outside the image reads as zeros (mid grey)."""
    h, w = img.shape[-2:]
    out = []
    for x0, y0, x1, y1 in boxes.round().long().tolist():
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        patch = img[:, :, max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
        patch = F.pad(patch, (max(-x0, 0), max(x1 - w, 0), max(-y0, 0), max(y1 - h, 0)))
        out.append(F.interpolate(patch, size=(size, size), mode="area"))
    return torch.cat(out)


def _nms_min(boxes: torch.Tensor, scores: torch.Tensor, thresh: float) -> torch.Tensor:
    """NMS by intersection over the smaller box: drops a box nested in a better one (O-Net's final step)."""
    order = scores.argsort(descending=True)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    for i in order.tolist():
        if keep:
            k = torch.tensor(keep)
            lt = torch.maximum(boxes[k, :2], boxes[i, :2])
            rb = torch.minimum(boxes[k, 2:], boxes[i, 2:])
            inter = (rb - lt).clamp(min=0).prod(1)
            if (inter / torch.minimum(area[k], area[i])).max() > thresh:
                continue
        keep.append(i)
    return torch.tensor(keep, dtype=torch.long)


class MTCNN(nn.Module):
    """The cascade. ``detect(rgb_uint8_hwc)`` returns boxes (N, 4), landmarks (N, 5, 2) and scores (N,).

    Args:
        min_face: smallest face side in pixels that the pyramid looks for.
        thresholds: P-, R- and O-Net score thresholds (facenet-pytorch's defaults).
        factor: pyramid step; 0.709 = 1/sqrt(2) halves the area per level.
    """

    def __init__(self, min_face: int = 20, thresholds=(0.6, 0.7, 0.7), factor: float = 0.709) -> None:
        super().__init__()
        from safetensors.torch import load_file

        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        self.load_state_dict(load_file(WEIGHTS), strict=True)
        self.min_face, self.thresholds, self.factor = min_face, tuple(thresholds), factor
        self.eval()

    def _scales(self, h: int, w: int) -> list[float]:
        scale, side, scales = 12.0 / self.min_face, min(h, w) * 12.0 / self.min_face, []
        while side >= 12:
            scales.append(scale)
            scale, side = scale * self.factor, side * self.factor
        return scales

    def _stage1(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        found = []
        for scale in self._scales(h, w):
            reg, prob = self.pnet(F.interpolate(img, size=(int(h * scale + 1), int(w * scale + 1)), mode="area"))
            ys, xs = torch.nonzero(prob[0, 1] >= self.thresholds[0], as_tuple=True)
            if not len(ys):
                continue
            cells = torch.stack([xs, ys], 1).float()
            boxes = torch.cat([(2 * cells + 1) / scale, (2 * cells + 12) / scale], 1).floor()
            score = prob[0, 1, ys, xs]
            boxes = _regress(boxes, reg[0, :, ys, xs].T)
            keep = batched_nms(boxes, score, torch.zeros_like(score, dtype=torch.long), 0.5)
            found.append(torch.cat([boxes[keep], score[keep, None]], 1))
        if not found:
            return torch.zeros(0, 5)
        boxes = torch.cat(found)
        boxes = boxes[batched_nms(boxes[:, :4], boxes[:, 4], torch.zeros(len(boxes), dtype=torch.long), 0.7)]
        return _square(boxes[:, :4])

    @torch.inference_mode()
    def detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Faces in an (H, W, 3) uint8 RGB array, in that array's pixels."""
        img = (torch.from_numpy(np.array(rgb, dtype=np.float32)).permute(2, 0, 1)[None] - 127.5) / 128.0
        empty = (np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros(0, np.float32))
        boxes = self._stage1(img)
        if not len(boxes):
            return empty
        reg, prob = self.rnet(_crops(img, boxes, 24))
        ok = prob[:, 1] > self.thresholds[1]
        boxes, score, reg = boxes[ok], prob[ok, 1], reg[ok]
        if not len(boxes):
            return empty
        keep = batched_nms(boxes, score, torch.zeros_like(score, dtype=torch.long), 0.7)
        boxes = _square(_regress(boxes[keep], reg[keep]))
        reg, marks, prob = self.onet(_crops(img, boxes, 48))
        ok = prob[:, 1] > self.thresholds[2]
        boxes, score, reg, marks = boxes[ok], prob[ok, 1], reg[ok], marks[ok]
        if not len(boxes):
            return empty
        wh = boxes[:, 2:] - boxes[:, :2]
        points = torch.stack([marks[:, :5], marks[:, 5:]], 2) * wh[:, None] + boxes[:, None, :2]
        boxes = _regress(boxes, reg)
        keep = _nms_min(boxes, score, 0.7)
        return boxes[keep].numpy(), points[keep].numpy(), score[keep].numpy()
