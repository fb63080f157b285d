"""dlib's HOG frontal face detector, with dlib's five points from its shape predictor.

dlib's HOG detector keeps scan state (not thread-safe): every thread takes a
detector of its own from a queue (building one takes 0.6 s; a copy through
its binary serialisation 4 ms). One image's scans are shared among the cores
(hog_schedule), each in a thread of its own.
"""

from __future__ import annotations

import math
import os
import pickle
import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

from hailo_face_server.detectors import hog_schedule
from hailo_face_server.detectors.base import FaceDetector
from hailo_face_server.detectors.dlib_landmarks import DlibFivePoints
from hailo_face_server.faces import Detections, LandmarkScheme
from hailo_face_server.frames import Frame
from hailo_face_server.geometry import non_max_suppression

SAME_FACE_IOU = 0.4
MAX_SCAN_THREADS = 4
CUT_TOLERANCE = 2.0  # pixels: a face this close to a strip's cut was cut
# HOG margins are mapped to 0..1 by a logistic; 0.5 is dlib's own threshold.
SCORE_SLOPE = 2.0


def hog_score(margin: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-SCORE_SLOPE * margin))


def hog_margin(score: float) -> float:
    clipped = min(max(score, 1e-6), 1 - 1e-6)
    return math.log(clipped / (1 - clipped)) / SCORE_SLOPE


class HogDetector(FaceDetector):
    name = "dlib_hog_frontal"
    scheme = LandmarkScheme.DLIB_5

    def __init__(self, dlib: Any, predictor: DlibFivePoints, requests: int, scan_threads: int | None = None) -> None:
        self._predictor = predictor
        self._threads = min(os.cpu_count() or 1, MAX_SCAN_THREADS) if scan_threads is None else scan_threads
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="hog") if self._threads > 1 else None
        self._detectors: queue.SimpleQueue[Any] = queue.SimpleQueue()
        detector = dlib.get_frontal_face_detector()
        serialised = pickle.dumps(detector)
        self._detectors.put(detector)
        for _ in range(requests + self._threads):
            self._detectors.put(pickle.loads(serialised))

    def detect(self, frame: Frame, *, min_face_size: int, threshold: float) -> Detections:
        pixels = frame.pixels  # HOG scans the whole image at several scales
        height, width = pixels.shape[:2]
        margin = hog_margin(threshold)
        scans = hog_schedule.plan(width, height, min_face_size, self._threads)
        if len(scans) > 1 and self._pool is not None:
            found = list(self._pool.map(lambda scan: self._scan(pixels, scan, margin), scans))
        else:
            found = [self._scan(pixels, scan, margin) for scan in scans]
        boxes = np.concatenate([boxes for boxes, _ in found])
        margins = np.concatenate([margins for _, margins in found])
        keep_order = non_max_suppression(boxes, margins, SAME_FACE_IOU)
        boxes, margins = boxes[keep_order], margins[keep_order]
        if len(boxes) == 0:
            return Detections.empty(self.scheme)
        return Detections(
            boxes=boxes.astype(np.float32),
            scores=hog_score(margins).astype(np.float32),
            landmarks=self._predictor.points_in(frame, boxes).astype(np.float32),
            scheme=self.scheme,
        )

    def _scan(self, pixels: np.ndarray, scan: hog_schedule.Scan, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Faces one scan finds, in image coordinates, within its size range and away from its cuts."""
        region = pixels[scan.top : scan.bottom]
        if scan.grey:
            region = np.asarray(Image.fromarray(np.ascontiguousarray(region)).convert("L"))
        boxes, margins = self._run(region, scan.scale, scan.padding, margin)
        boxes[:, [1, 3]] += scan.top
        sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        keep = (sides >= scan.min_side) & (sides < scan.max_side)
        if scan.cut_above:
            keep &= boxes[:, 1] > scan.top + CUT_TOLERANCE
        if scan.cut_below:
            keep &= boxes[:, 3] < scan.bottom - CUT_TOLERANCE
        return boxes[keep], margins[keep]

    def _run(self, pixels: np.ndarray, scale: float, padding: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
        height, width = pixels.shape[:2]
        if abs(scale - 1.0) > 1e-3:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            scaled = np.asarray(Image.fromarray(np.ascontiguousarray(pixels)).resize(size, Image.Resampling.BILINEAR))
        else:
            scale, scaled = 1.0, pixels
        pad = round(padding * max(scaled.shape[:2]))
        if pad:
            pad_width = ((pad, pad), (pad, pad)) + ((0, 0),) * (scaled.ndim - 2)
            scaled = np.pad(scaled, pad_width, mode="edge")
        detector = self._detectors.get()
        try:
            rects, margins, _ = detector.run(np.ascontiguousarray(scaled), 0, margin)
        finally:
            self._detectors.put(detector)
        corners = [[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects]
        boxes: np.ndarray = (np.array(corners, dtype=np.float64).reshape(-1, 4) - pad) / scale
        return boxes, np.asarray(margins, dtype=np.float64).reshape(-1)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
