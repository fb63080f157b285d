"""dlib's ResNet face descriptor (128-D) on chips dlib cuts from its own five points."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hailo_face_server.embedders.base import FaceEmbedder, l2_normalize
from hailo_face_server.faces import LandmarkScheme
from hailo_face_server.frames import Frame
from hailo_face_server.matching import SimilarityCalibration
from hailo_face_server.runtimes.dlib_descriptors import load_descriptor
from hailo_face_server.runtimes.dlib_models import DESCRIPTOR_CHIP_PADDING, DESCRIPTOR_CHIP_SIZE, DlibModelFiles

MODEL_ID = "dlib_resnet_v1"
EMBEDDING_DIM = 128
CALIBRATION = SimilarityCalibration(centre=0.92, width=0.01)


class DlibChipAligner:
    """Face chips exactly as dlib's descriptor expects them (dlib's own extraction).

    Each chip is cut from the part of the frame it covers (dlib's chip
    details give that rectangle), not from a copy of the whole frame.
    """

    chip_size = DESCRIPTOR_CHIP_SIZE

    def __init__(self, dlib: Any) -> None:
        self._dlib = dlib

    def align(self, frame: Frame, landmarks: np.ndarray) -> np.ndarray:
        chips = np.zeros((len(landmarks), self.chip_size, self.chip_size, 3), np.uint8)
        for i, points in enumerate(landmarks):
            details = self._dlib.get_face_chip_details(
                self._shape(points, 0, 0), size=self.chip_size, padding=DESCRIPTOR_CHIP_PADDING
            )
            rect = details.rect
            centre_x, centre_y = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
            # dlib samples a chip from a rectangle larger than 300 px through a pyramid, cutting its
            # rotated rectangle grown by 2^(levels + 2) - 2 pixels: a quarter of its side covers that.
            reach = math.hypot(rect.width(), rect.height()) / 2 + max(2.0, max(rect.width(), rect.height()) / 4)
            region, (left, top) = frame.region(
                (centre_x - reach, centre_y - reach, centre_x + reach + 1, centre_y + reach + 1)
            )
            chip = self._dlib.get_face_chip(
                np.ascontiguousarray(region),
                self._shape(points, left, top),
                size=self.chip_size,
                padding=DESCRIPTOR_CHIP_PADDING,
            )
            chips[i] = np.asarray(chip, dtype=np.uint8)
        return chips

    def _shape(self, points: np.ndarray, left: int, top: int) -> Any:
        x1, y1 = np.floor(points.min(axis=0)).astype(int)
        x2, y2 = np.ceil(points.max(axis=0)).astype(int)
        rect = self._dlib.rectangle(int(x1) - left, int(y1) - top, int(x2) - left, int(y2) - top)
        parts = [self._dlib.point(round(float(x)) - left, round(float(y)) - top) for x, y in points]
        return self._dlib.full_object_detection(rect, parts)


class DlibResnetEmbedder(FaceEmbedder):
    name = "dlib_face_recognition_resnet_model_v1"
    model_id = MODEL_ID
    dimension = EMBEDDING_DIM
    scheme = LandmarkScheme.DLIB_5
    calibration = CALIBRATION

    def __init__(
        self, dlib: Any, files: DlibModelFiles, runtime: str, cache_dir: Path | None, helper_processes: int | None
    ) -> None:
        self.aligner = DlibChipAligner(dlib)
        self.descriptor = load_descriptor(runtime, dlib, files, cache_dir, helper_processes)
        self.runtime = self.descriptor.name
        self.concurrency = self.descriptor.concurrency

    def embed(self, chips: np.ndarray) -> np.ndarray:
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        return l2_normalize(self.descriptor.describe(chips))

    def close(self) -> None:
        self.descriptor.close()
