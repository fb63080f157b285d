"""The CPU's face detectors by name (``face_recognition.cpu_detector``), and the landmark adapters.

A new detector is one module in detectors/ and one row here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hailo_face_server.detectors.base import FaceDetector, LandmarkAdapter
from hailo_face_server.detectors.dlib_landmarks import DlibFivePoints, DlibPointsFromArcface
from hailo_face_server.faces import LandmarkScheme


class CpuParts:
    """What CPU detectors and adapters are built from; the shape predictor is loaded once, if needed."""

    def __init__(
        self, dlib: Any, shape_predictor: Path, cache_dir: Path, requests: int, scan_threads: int | None
    ) -> None:
        self.dlib = dlib
        self.shape_predictor_file = shape_predictor
        self.cache_dir = cache_dir
        self.requests = requests  # requests that may detect at once
        self.scan_threads = scan_threads  # threads a detector may scan one image with (None: its own choice)

    @functools.cached_property
    def predictor(self) -> DlibFivePoints:
        return DlibFivePoints(self.dlib, str(self.shape_predictor_file))


def _yunet(parts: CpuParts) -> FaceDetector:
    from hailo_face_server.detectors.yunet import TILES_AT_ONCE, YunetDetector

    return YunetDetector(parts.cache_dir, tiles_at_once=parts.scan_threads or TILES_AT_ONCE)


def _hog(parts: CpuParts) -> FaceDetector:
    from hailo_face_server.detectors.hog import HogDetector

    return HogDetector(parts.dlib, parts.predictor, parts.requests, parts.scan_threads)


CPU_DETECTORS: dict[str, Callable[[CpuParts], FaceDetector]] = {
    "yunet": _yunet,  # OpenCV Zoo's YuNet (MIT), on onnxruntime: the default
    "hog": _hog,  # dlib's HOG frontal detector, for comparison
}

LANDMARK_ADAPTERS: dict[tuple[LandmarkScheme, LandmarkScheme], Callable[[CpuParts], LandmarkAdapter]] = {
    (LandmarkScheme.ARCFACE_5, LandmarkScheme.DLIB_5): lambda parts: DlibPointsFromArcface(parts.predictor),
}
