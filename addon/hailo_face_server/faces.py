"""Faces found in an image: boxes, scores and five landmarks that say which five points they are."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class LandmarkScheme(StrEnum):
    """Which five points a detector's landmarks are, in which order (image left first)."""

    # dlib's 5-point shape predictor: outer and inner corner of the image-left eye, of the
    # image-right eye, then the bottom of the nose.
    DLIB_5 = "dlib_5"
    # SCRFD, RetinaFace, YuNet and the ArcFace template: eye centres, nose tip, mouth corners.
    ARCFACE_5 = "arcface_5"


@dataclass(frozen=True)
class Detections:
    """Faces found in one image, in that image's pixel coordinates."""

    boxes: np.ndarray  # N x 4 float32, x1 y1 x2 y2
    scores: np.ndarray  # N float32, 0..1
    landmarks: np.ndarray  # N x 5 x 2 float32, the points of ``scheme``
    scheme: LandmarkScheme

    @classmethod
    def empty(cls, scheme: LandmarkScheme) -> Detections:
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
            scheme=scheme,
        )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def select(self, indices: np.ndarray | list[int]) -> Detections:
        index = np.asarray(indices, dtype=np.intp)
        return Detections(self.boxes[index], self.scores[index], self.landmarks[index], self.scheme)

    def with_landmarks(self, landmarks: np.ndarray, scheme: LandmarkScheme) -> Detections:
        """The same faces with landmarks of another scheme."""
        return Detections(self.boxes, self.scores, landmarks.astype(np.float32), scheme)
