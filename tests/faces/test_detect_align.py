"""Detection and alignment on real and synthetic faces pasted into scenes at known places, sizes and angles."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from emozoo.errors import ConfigError
from emozoo.faces import Crop, alignment_matrix, crop_faces, get_detector, list_detectors
from emozoo.faces.align import crop_square
from tests.faces.scenes import astronaut, box_iou, scene, synthface

# SynthFace images the detector finds as close-ups (it finds ~80% of them, README "Face detector"); the tests
# check that scale, rotation and position in a scene don't lose them.
SYNTH = (0, 2, 3)


@pytest.fixture(scope="module")
def sources():
    return [astronaut()] + [synthface(i) for i in SYNTH]


@pytest.fixture(scope="module")
def crowd(sources):
    astro, s0, s2, s3 = sources
    return scene(
        [
            (astro, 120, 0, (150, 150)),
            (astro, 200, 30, (450, 300)),
            (astro, 90, -30, (800, 150)),
            (s0, 150, 20, (200, 550)),
            (s2, 110, -25, (550, 600)),
            (s3, 160, 0, (850, 500)),
        ]
    )


def _eye_angle(eyes: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(eyes[1, 1] - eyes[0, 1], eyes[1, 0] - eyes[0, 0])))


def _match(faces, placed):
    """For each pasted face, the detection that overlaps it most."""
    return [max(faces, key=lambda f: box_iou(f.box, p.box)) for p in placed]


@pytest.mark.slow
def test_every_pasted_face_is_found_where_it_was_put(crowd):
    image, placed = crowd
    faces = get_detector().detect(image)
    assert len(faces) == len(placed)
    for face, p in zip(_match(faces, placed), placed):
        assert box_iou(face.box, p.box) > 0.5, (face.box, p.box)
        assert face.landmarks.shape == (5, 2) and 0.5 < face.score <= 1.0
    assert len({id(f) for f in _match(faces, placed)}) == len(placed)  # one detection per pasted face


@pytest.mark.slow
def test_alignment_levels_the_eyes_of_rotated_faces(crowd):
    """The hand-labelled (astronaut) and rendered (SynthFace) eyes, moved through the crop transform, are level."""
    image, placed = crowd
    faces = get_detector().detect(image)
    for face, p in zip(_match(faces, placed), placed):
        eyes = np.c_[p.eyes, np.ones(2)] @ alignment_matrix(face).T
        assert abs(_eye_angle(p.eyes)) > 10 or abs(p.angle) < 1  # the scene really is rotated where we say
        assert abs(_eye_angle(eyes)) < 6, (p.angle, _eye_angle(eyes))


@pytest.mark.slow
def test_aligned_crop_pixels_match_the_transform(sources):
    """align_face's pixels are the original's pixels at the matrix's inverse (checked on a marked pixel)."""
    image, placed = scene([(sources[0], 200, 25, (300, 250))], size=(600, 500))
    face = get_detector().detect(image)[0]
    m = alignment_matrix(face, output_size=128)
    crop = crop_faces(image, "all", output_size=128)[0].image
    assert crop.size == (128, 128)
    # the crop's centre comes from the original at M^-1 (64, 64)
    src = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2] @ np.array([64, 64, 1])
    want = np.asarray(image, dtype=float)[round(src[1]) - 1 : round(src[1]) + 2, round(src[0]) - 1 : round(src[0]) + 2]
    got = np.asarray(crop, dtype=float)[64]
    assert np.abs(got[64] - want.reshape(-1, 3).mean(0)).max() < 40


def test_close_ups_pass_through_nearly_unchanged(sources):
    """An EmoNet-Face-style close-up: the crop square is close to its whole frame."""
    for src in sources[1:]:
        face = max(get_detector().detect(src.image), key=lambda f: f.area)
        centre, side, angle = crop_square(face)
        box = (*(centre - side / 2), *(centre + side / 2))
        assert box_iou(box, (0, 0, *src.image.size)) > 0.75
        assert abs(angle) < 25


@pytest.mark.slow
def test_modes_and_no_face(sources):
    image, _ = scene([(sources[0], 150, 0, (200, 200)), (sources[0], 90, 0, (500, 200))], size=(700, 400))
    all_ = crop_faces(image, "all")
    assert len(all_) == 2 and all(isinstance(c, Crop) for c in all_)
    assert all_[0].box[2] - all_[0].box[0] > all_[1].box[2] - all_[1].box[0]  # largest first
    (largest,) = crop_faces(image, "largest")
    assert largest.box == all_[0].box
    (whole,) = crop_faces(image, "none")
    assert whole.image is image and whole.box == (0.0, 0.0, 700.0, 400.0)
    assert whole.landmarks is None and whole.detector_score is None
    blank, _ = scene([], size=(640, 480))
    assert crop_faces(blank, "all") == [] and crop_faces(Image.new("L", (300, 200), 90), "largest") == []


def test_bad_names_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="mtcnn"):
        crop_faces(Image.new("RGB", (64, 64)), "all", detector="mtcn")
    with pytest.raises(ConfigError, match="all, largest, none"):
        crop_faces(Image.new("RGB", (64, 64)), "every")
    assert "default" in list_detectors() and "mtcnn" in list_detectors()


def test_detector_works_offline(monkeypatch, sources):
    """The weights ship in the package: with the network switched off, the detector still builds and finds."""
    import socket

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    from emozoo.faces.detector import MTCNNDetector

    assert len(MTCNNDetector().detect(sources[0].image)) == 1
