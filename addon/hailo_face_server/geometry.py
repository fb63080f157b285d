"""Box arithmetic on N x 4 arrays of x1, y1, x2, y2."""

from __future__ import annotations

import numpy as np


def box_areas(boxes: np.ndarray) -> np.ndarray:
    areas: np.ndarray = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    return areas


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each of several."""
    left = np.maximum(box[0], boxes[:, 0])
    top = np.maximum(box[1], boxes[:, 1])
    right = np.minimum(box[2], boxes[:, 2])
    bottom = np.minimum(box[3], boxes[:, 3])
    intersection = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = box_areas(box[None, :])[0] + box_areas(boxes) - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, max_iou: float) -> np.ndarray:
    """Indices of the boxes kept, best score first; a box overlapping a better one is dropped."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    while len(order):
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        order = rest[iou(boxes[best], boxes[rest]) <= max_iou]
    return np.asarray(kept, dtype=np.intp)


def centres_inside(boxes: np.ndarray, region: np.ndarray) -> np.ndarray:
    centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    inside: np.ndarray = (
        (centre_x >= region[0]) & (centre_x <= region[2]) & (centre_y >= region[1]) & (centre_y <= region[3])
    )
    return inside
