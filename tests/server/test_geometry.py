"""Box arithmetic: IoU and non-maximum suppression against a plain reading of their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from hailo_face_server.geometry import iou, non_max_suppression


def plain_iou(a: list[float], b: list[float]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1]) + max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def plain_nms(boxes: list[list[float]], scores: list[float], max_iou: float) -> list[int]:
    """Greedy: the best remaining box is kept, and every box overlapping it by more than max_iou is dropped."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for i in order:
        if all(plain_iou(boxes[i], boxes[k]) <= max_iou for k in kept):
            kept.append(i)
    return kept


def random_boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    """Clusters of overlapping boxes (as a detector gives around each face), some empty or inverted."""
    centres = rng.uniform(0, 200, (4, 2))[rng.integers(0, 4, count)] + rng.normal(0, 6, (count, 2))
    sides = rng.uniform(-2, 40, (count, 2))
    return np.concatenate([centres - sides / 2, centres + sides / 2], axis=1)


@pytest.mark.parametrize("seed", range(20))
def test_iou_and_nms_agree_with_their_definitions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, int(rng.integers(1, 60)))
    scores = rng.uniform(0, 1, len(boxes)).round(2)  # ties happen: the first index wins
    for max_iou in (0.0, 0.3, 0.5):
        kept = non_max_suppression(boxes, scores, max_iou)
        assert kept.tolist() == plain_nms(boxes.tolist(), scores.tolist(), max_iou)
    expected = [plain_iou(boxes[0].tolist(), b) for b in boxes.tolist()]
    np.testing.assert_allclose(iou(boxes[0], boxes), expected, rtol=1e-9, atol=1e-12)


def test_nms_of_nothing_keeps_nothing() -> None:
    assert non_max_suppression(np.zeros((0, 4)), np.zeros(0), 0.3).tolist() == []
