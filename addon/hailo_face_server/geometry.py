"""Box arithmetic on N x 4 arrays of x1, y1, x2, y2."""

from __future__ import annotations

import numpy as np


def box_areas(boxes: np.ndarray) -> np.ndarray:
    areas: np.ndarray = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    return areas


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each of several."""
    left = np.maximum(box[0], boxes[:, 0])
    top = np.maximum(box[1], boxes[:, 1])
    right = np.minimum(box[2], boxes[:, 2])
    bottom = np.minimum(box[3], boxes[:, 3])
    return _overlap(float(box_areas(box[None, :])[0]), (left, top, right, bottom), box_areas(boxes))


def _overlap(area: float, edges: tuple[np.ndarray, ...], areas: np.ndarray) -> np.ndarray:
    """IoU from the intersections' edges (left, top, right, bottom) and both sides' areas (0: the union is empty)."""
    left, top, right, bottom = edges
    intersection = np.maximum(right - left, 0) * np.maximum(bottom - top, 0)
    union = area + areas - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, max_iou: float) -> np.ndarray:
    """Indices of the boxes kept, best score first; a box overlapping a better one is dropped.

    The areas and edge columns are taken once, not for every box kept (a frame's NMS was
    0.4 ms of the Hailo host's time for five faces, mostly that).
    """
    order = np.argsort(-scores, kind="stable")
    areas = box_areas(boxes)
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, k]) for k in range(4))
    kept: list[int] = []
    while len(order):
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        overlap = _overlap(
            float(areas[best]),
            (
                np.maximum(x1[best], x1[rest]),
                np.maximum(y1[best], y1[rest]),
                np.minimum(x2[best], x2[rest]),
                np.minimum(y2[best], y2[rest]),
            ),
            areas[rest],
        )
        order = rest[overlap <= max_iou]
    return np.asarray(kept, dtype=np.intp)


def centres_inside(boxes: np.ndarray, region: np.ndarray) -> np.ndarray:
    centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    inside: np.ndarray = (
        (centre_x >= region[0]) & (centre_x <= region[2]) & (centre_y >= region[1]) & (centre_y <= region[3])
    )
    return inside
