"""Annotated photos: boxes where the faces are, numbered, with their label lines."""

from __future__ import annotations

import numpy as np
from PIL import Image

from emozoo.faces.annotate import _COLOURS, annotate


def test_boxes_and_labels_are_drawn_and_the_original_is_untouched():
    image = Image.new("L", (400, 300), 128)  # not RGB: annotate converts
    faces = [((50, 40, 150, 160), ["joy 5.1", "awe 3.0", "pride 1.2"]), ((250, 30, 330, 120), ["fear 2.0"])]
    out = annotate(image, faces)
    assert out.mode == "RGB" and out.size == image.size
    assert np.asarray(image).max() == 128  # untouched
    px = np.asarray(out)
    assert tuple(px[100, 50]) == _COLOURS[0] and tuple(px[40, 100]) == _COLOURS[0]  # left and top edges of box 0
    assert tuple(px[80, 330]) == _COLOURS[1]  # right edge of box 1
    assert tuple(px[100, 100]) == (128, 128, 128)  # inside the box: the photo shows through
    below = px[162:190, 52:100]
    assert (below == 0).all(-1).mean() > 0.5 and (below[..., 0] > 150).any()  # a label panel with orange text


def test_labels_stay_inside_the_image_at_the_bottom_edge():
    out = annotate(Image.new("RGB", (200, 150), "white"), [((120, 100, 199, 149), ["joy 5.1", "awe 3.0", "x 1"])])
    px = np.asarray(out)
    assert (px[:100] == 0).all(-1).any()  # the panel went above the box
    assert out.size == (200, 150)
