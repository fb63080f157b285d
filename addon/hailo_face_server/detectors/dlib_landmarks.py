"""dlib's 5-point shape predictor: dlib's landmarks in a face box, and the adapter from ArcFace's five points.

dlib's ResNet descriptor was trained on chips cut from these points, and the
predictor on the boxes dlib's HOG detector draws. For a face found by another
detector (YuNet, SCRFD), the predictor runs first in a box made from that
detector's the way HOG boxes sit on a face (measured on ../shared/faces: a
square of side (1.055 w + 0.936 h) / 2, centred 0.026 h below the box's
centre), then once more in the box HOG would have drawn around the points it
found, so landmarks, chips and embeddings are those of the gallery.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hailo_face_server.detectors.base import LandmarkAdapter
from hailo_face_server.faces import Detections, LandmarkScheme
from hailo_face_server.frames import Frame

# Where dlib's HOG box sits on a face, relative to YuNet's box (medians over 49 faces of
# ../shared/faces; spread 0.05-0.07).
HOG_SIDE_PER_WIDTH = 1.055 / 2
HOG_SIDE_PER_HEIGHT = 0.936 / 2
HOG_SHIFT_PER_HEIGHT = 0.026
# Where dlib's HOG box sits relative to dlib's five points (same faces): its centre lies
# (0.093, 0.729) x d from the mean of the four eye corners and its side is 3.03 x d, where
# d is the distance from that mean to the nose point.
HOG_CENTRE_FROM_EYES = np.array([0.0931, 0.7288])
HOG_SIDE_PER_EYES_TO_NOSE = 3.0316
# The predictor reads pixels around its box; a region this much larger on each side (in box
# sides) holds all it reads, so it runs on that region instead of the whole frame.
REGION_MARGIN = 0.5


def hog_like_boxes(boxes: np.ndarray) -> np.ndarray:
    """Square boxes where dlib's HOG detector would have put them, from YuNet's boxes."""
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2 + HOG_SHIFT_PER_HEIGHT * heights
    half = (HOG_SIDE_PER_WIDTH * widths + HOG_SIDE_PER_HEIGHT * heights) / 2
    result: np.ndarray = np.stack([centre_x - half, centre_y - half, centre_x + half, centre_y + half], axis=1)
    return result


def hog_boxes_around(landmarks: np.ndarray) -> np.ndarray:
    """Square boxes where dlib's HOG detector puts them around faces with these dlib five points."""
    eyes = landmarks[:, :4].mean(axis=1)
    scale = np.linalg.norm(eyes - landmarks[:, 4], axis=1, keepdims=True)
    centres = eyes + HOG_CENTRE_FROM_EYES * scale
    half = HOG_SIDE_PER_EYES_TO_NOSE * scale / 2
    result: np.ndarray = np.concatenate([centres - half, centres + half], axis=1)
    return result


class DlibFivePoints:
    """dlib's ``shape_predictor_5_face_landmarks``; thread-safe."""

    name = "dlib_shape_predictor_5_face_landmarks"

    def __init__(self, dlib: Any, model_file: str) -> None:
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(model_file)

    def points_in(self, frame: Frame, boxes: np.ndarray) -> np.ndarray:
        """N x 5 x 2 dlib points, one face in each box (x1, y1, x2, y2; rounded to pixels as dlib's rectangles)."""
        points = np.zeros((len(boxes), 5, 2), np.float64)
        for i, box in enumerate(boxes):
            x1, y1, x2, y2 = (round(float(v)) for v in box)
            margin = REGION_MARGIN * max(x2 - x1, y2 - y1)
            region, (left, top) = frame.region((x1 - margin, y1 - margin, x2 + margin, y2 + margin))
            rect = self._dlib.rectangle(x1 - left, y1 - top, x2 - 1 - left, y2 - 1 - top)
            # A writeable array: dlib converts a read-only one (Pillow's pixels are) at about twice the cost.
            shape = self._predictor(np.require(region, np.uint8, ["C_CONTIGUOUS", "WRITEABLE"]), rect)
            points[i] = [[p.x + left, p.y + top] for p in shape.parts()]
        return points


class DlibPointsFromArcface(LandmarkAdapter):
    """dlib's five points for faces found with ArcFace's (YuNet, SCRFD): the predictor, twice."""

    source = LandmarkScheme.ARCFACE_5
    target = LandmarkScheme.DLIB_5

    def __init__(self, predictor: DlibFivePoints) -> None:
        self._predictor = predictor
        self.name = predictor.name

    def adapt(self, frame: Frame, detections: Detections) -> Detections:
        if len(detections) == 0:
            return detections.with_landmarks(detections.landmarks, self.target)
        # The predictor's points move with its box; the second box depends on the face, not on the detector.
        first = self._predictor.points_in(frame, hog_like_boxes(detections.boxes))
        return detections.with_landmarks(self._predictor.points_in(frame, hog_boxes_around(first)), self.target)
