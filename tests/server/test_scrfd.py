"""SCRFD decoding on raw outputs built for known faces: decode must give them back."""

from __future__ import annotations

import numpy as np
import pytest

from hailo_face_server.detectors.scrfd import (
    ANCHORS_PER_CELL,
    STRIDES,
    HeadOutputs,
    anchor_points,
    decode,
    group_outputs,
    letterbox_geometry,
    letterbox_image,
)
from hailo_face_server.frames import Frame

SIZE = 640


def empty_heads() -> dict[int, HeadOutputs]:
    heads = {}
    for stride in STRIDES:
        cells = SIZE // stride
        heads[stride] = HeadOutputs(
            scores=np.zeros((cells, cells, ANCHORS_PER_CELL), np.float32),
            boxes=np.zeros((cells, cells, 4 * ANCHORS_PER_CELL), np.float32),
            keypoints=np.zeros((cells, cells, 10 * ANCHORS_PER_CELL), np.float32),
        )
    return heads


def place_face(
    heads: dict[int, HeadOutputs], stride: int, box: np.ndarray, keypoints: np.ndarray, *, score: float, anchor: int = 1
) -> None:
    """Write a face into the raw outputs the way SCRFD would predict it."""
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    col, row = int(centre[0] // stride), int(centre[1] // stride)
    point = np.array([col * stride, row * stride], np.float32)
    head = heads[stride]
    head.scores[row, col, anchor] = score
    distances = np.array([point[0] - box[0], point[1] - box[1], box[2] - point[0], box[3] - point[1]]) / stride
    head.boxes[row, col, 4 * anchor : 4 * anchor + 4] = distances
    head.keypoints[row, col, 10 * anchor : 10 * anchor + 10] = ((keypoints - point) / stride).reshape(-1)


FACES = [
    # stride, box in the 640 x 640 input, keypoints (eyes, nose, mouth corners)
    (8, np.array([100.0, 120.0, 130.0, 158.0]), np.array([[108, 133], [122, 133], [115, 141], [109, 150], [121, 150]])),
    (
        16,
        np.array([300.0, 200.0, 380.0, 300.0]),
        np.array([[322, 236], [358, 236], [340, 258], [325, 278], [355, 278]]),
    ),
    (
        32,
        np.array([400.0, 330.0, 610.0, 600.0]),
        np.array([[460, 430], [550, 430], [505, 490], [465, 540], [545, 540]]),
    ),
]


def test_anchor_points_are_row_major_with_adjacent_anchors() -> None:
    points = anchor_points(2, 3, 16)
    assert points.shape == (12, 2)
    assert points[:6].tolist() == [[0, 0], [0, 0], [16, 0], [16, 0], [32, 0], [32, 0]]
    assert points[6].tolist() == [0, 16]
    chosen = np.array([7, 0, 11, 4])
    assert anchor_points(2, 3, 16, chosen).tolist() == points[chosen].tolist()


def test_decode_gives_back_known_faces_in_image_coordinates() -> None:
    heads = empty_heads()
    for stride, box, keypoints in FACES:
        place_face(heads, stride, box, keypoints.astype(np.float32), score=0.9)
    # An image of 1280 x 720 letterboxes with scale 0.5 and 140 px of black above and below.
    geometry = letterbox_geometry(1280, 720, SIZE)
    assert (geometry.scale, geometry.pad_x, geometry.pad_y) == (0.5, 0, 140)
    found = decode(heads, 0.5, geometry)
    assert len(found) == 3
    order = np.argsort(found.boxes[:, 0])
    for (_, box, keypoints), index in zip(FACES, order, strict=True):
        expected_box = (box - [0, 140, 0, 140]) / 0.5
        expected_points = (keypoints - [0, 140]) / 0.5
        assert np.allclose(found.boxes[index], expected_box, atol=1e-3)
        assert np.allclose(found.landmarks[index], expected_points, atol=1e-3)
        assert found.scores[index] == pytest.approx(0.9)


def test_scores_below_threshold_are_dropped_and_duplicates_suppressed() -> None:
    heads = empty_heads()
    stride, box, keypoints = FACES[1]
    place_face(heads, stride, box, keypoints.astype(np.float32), score=0.9, anchor=0)
    place_face(heads, stride, box + 2, keypoints.astype(np.float32) + 2, score=0.7, anchor=1)
    place_face(heads, 8, FACES[0][1], FACES[0][2].astype(np.float32), score=0.3)
    found = decode(heads, 0.5, letterbox_geometry(SIZE, SIZE, SIZE))
    assert len(found) == 1
    assert np.allclose(found.boxes[0], box)
    assert decode(empty_heads(), 0.5, letterbox_geometry(SIZE, SIZE, SIZE)).boxes.shape == (0, 4)


def test_outputs_are_grouped_by_shape_whatever_their_names_and_order() -> None:
    heads = empty_heads()
    raw = {}
    for index, head in enumerate(heads.values()):
        raw[f"scrfd/conv{index}_score"] = head.scores[None]
        raw[f"scrfd/conv{index}_kps"] = head.keypoints
        raw[f"scrfd/conv{index}_box"] = head.boxes
    grouped = group_outputs(dict(reversed(list(raw.items()))), SIZE)
    assert sorted(grouped) == list(STRIDES)
    assert grouped[16].boxes.shape == (40, 40, 8)
    with pytest.raises(ValueError, match="stride 32"):
        group_outputs({k: v for k, v in raw.items() if k != "scrfd/conv2_kps"}, SIZE)


def test_letterbox_centres_the_image_and_maps_back() -> None:
    pixels = np.full((100, 200, 3), 255, np.uint8)
    canvas, geometry = letterbox_image(Frame.of(pixels), 64)
    assert canvas.shape == (64, 64, 3)
    assert (geometry.pad_x, geometry.pad_y) == (0, 16)
    # Padded with Hailo's letterbox grey, as the network saw it in Hailo's pipelines.
    assert (canvas[:16] == 114).all() and (canvas[48:] == 114).all() and canvas[16:48].min() == 255
    assert np.allclose(geometry.to_image(np.array([[0.0, 16.0, 64.0, 48.0]])), [[0, 0, 200, 100]])
