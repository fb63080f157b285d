"""CPU backend: a face detector (YuNet on onnxruntime, or dlib's HOG), dlib's 5-point shape predictor
and ResNet descriptor.

With YuNet the shape predictor runs in a box made from YuNet's the way dlib's
HOG boxes sit on a face (measured on ../shared/faces: a square of side
(1.055 w + 0.936 h) / 2, centred 0.026 h below YuNet's centre), then once more
in the box HOG would have drawn around the points it found, so the landmarks,
chips and embeddings are those the gallery already holds.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import queue
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hailo_face_server.backends import hog_schedule
from hailo_face_server.backends.base import BackendInfo, BackendUnavailable, Detections, FaceBackend, l2_normalize
from hailo_face_server.backends.descriptors import default_cache_dir, load_descriptor
from hailo_face_server.backends.dlib_models import (
    DESCRIPTOR_CHIP_PADDING,
    DESCRIPTOR_CHIP_SIZE,
    find_model_files,
    import_dlib,
)
from hailo_face_server.detectors.yunet import YunetDetector
from hailo_face_server.geometry import non_max_suppression
from hailo_face_server.matching import SimilarityCalibration
from hailo_face_server.runtimes.onnx_models import ModelUnavailable

_LOGGER = logging.getLogger(__name__)

MODEL_ID = "dlib_resnet_v1"
EMBEDDING_DIM = 128
CALIBRATION = SimilarityCalibration(centre=0.92, width=0.01)

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


# Where dlib's HOG box sits on a face, relative to YuNet's box (medians over 49 faces of
# ../shared/faces; spread 0.05-0.07): the shape predictor was trained on HOG boxes.
HOG_SIDE_PER_WIDTH = 1.055 / 2
HOG_SIDE_PER_HEIGHT = 0.936 / 2
HOG_SHIFT_PER_HEIGHT = 0.026
# Where dlib's HOG box sits relative to dlib's five points (same faces): its centre lies
# (0.093, 0.729) x d from the mean of the four eye corners and its side is 3.03 x d, where
# d is the distance from that mean to the nose point.
HOG_CENTRE_FROM_EYES = np.array([0.0931, 0.7288])
HOG_SIDE_PER_EYES_TO_NOSE = 3.0316


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


class DlibChipAligner:
    """Face chips exactly as dlib's descriptor expects them (its own extraction)."""

    chip_size = DESCRIPTOR_CHIP_SIZE

    def __init__(self, dlib: Any) -> None:
        self._dlib = dlib

    def align(self, pixels: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        if len(landmarks) == 0:
            return np.zeros((0, self.chip_size, self.chip_size, 3), np.uint8)
        shapes = self._dlib.full_object_detections()
        for points in landmarks:
            left, top = np.floor(points.min(axis=0)).astype(int)
            right, bottom = np.ceil(points.max(axis=0)).astype(int)
            rect = self._dlib.rectangle(int(left), int(top), int(right), int(bottom))
            parts = [self._dlib.point(round(float(x)), round(float(y))) for x, y in points]
            shapes.append(self._dlib.full_object_detection(rect, parts))
        chips = self._dlib.get_face_chips(
            np.ascontiguousarray(pixels), shapes, size=self.chip_size, padding=DESCRIPTOR_CHIP_PADDING
        )
        return np.stack([np.asarray(chip, dtype=np.uint8) for chip in chips])


class CpuBackend(FaceBackend):
    def __init__(
        self,
        helper_processes: int | None = None,
        *,
        descriptor: str = "onnxruntime",
        detector: str = "yunet",
        model_cache_dir: Path | None = None,
        scan_threads: int | None = None,
    ) -> None:
        dlib = import_dlib()
        try:
            self._yunet = YunetDetector(model_cache_dir or default_cache_dir()) if detector == "yunet" else None
        except ModelUnavailable as err:
            raise BackendUnavailable(str(err), "missing_model") from err
        files = find_model_files()
        self._dlib = dlib
        # Thread-safe in dlib (its detector is not): one for every thread.
        self._shape_predictor = dlib.shape_predictor(str(files.shape_predictor))
        self.aligner = DlibChipAligner(dlib)
        self._descriptor = load_descriptor(descriptor, dlib, files, model_cache_dir, helper_processes)
        # Requests run one per core: each detects with a detector of its own
        # and describes without holding the GIL (onnxruntime, or a helper).
        # dlib's HOG detector keeps scan state (not thread-safe). Building one
        # takes 0.6 s; copies through its binary serialisation take 4 ms.
        self.concurrency = self._descriptor.concurrency
        # HOG only: one image's scans are shared among the cores (hog_schedule),
        # each thread with a detector of its own.
        self._scanners_count = min(os.cpu_count() or 1, MAX_SCAN_THREADS) if scan_threads is None else scan_threads
        self._scanners = (
            ThreadPoolExecutor(self._scanners_count, thread_name_prefix="hog")
            if self._scanners_count > 1 and self._yunet is None
            else None
        )
        self._detectors: queue.SimpleQueue[Any] = queue.SimpleQueue()
        if self._yunet is None:
            detector = dlib.get_frontal_face_detector()
            serialised = pickle.dumps(detector)
            self._detectors.put(detector)
            for _ in range(self.concurrency + self._scanners_count):
                self._detectors.put(pickle.loads(serialised))
        self.info = BackendInfo(
            name="cpu",
            model_id=MODEL_ID,
            embedding_dim=EMBEDDING_DIM,
            models={
                "detector": "yunet_2023mar" if self._yunet is not None else "dlib_hog_frontal",
                "landmarks": "dlib_shape_predictor_5_face_landmarks",
                "embedder": "dlib_face_recognition_resnet_model_v1",
                "embedder_runtime": self._descriptor.name,
            },
            landmark_scheme="dlib_5",
            device="cpu",
            calibration=CALIBRATION,
            extra={"descriptor": self._descriptor.name, "concurrency": self.concurrency},
        )

    def detect(self, pixels: np.ndarray, *, min_face_size: int, threshold: float) -> Detections:
        if self._yunet is not None:
            return self._detect_yunet(pixels, min_face_size, threshold)
        height, width = pixels.shape[:2]
        margin = hog_margin(threshold)
        scans = hog_schedule.plan(width, height, min_face_size, self._scanners_count)
        if len(scans) > 1 and self._scanners is not None:
            found = list(self._scanners.map(lambda scan: self._scan(pixels, scan, margin), scans))
        else:
            found = [self._scan(pixels, scan, margin) for scan in scans]
        boxes = np.concatenate([boxes for boxes, _ in found])
        margins = np.concatenate([margins for _, margins in found])
        keep_order = non_max_suppression(boxes, margins, SAME_FACE_IOU)
        boxes, margins = boxes[keep_order], margins[keep_order]
        landmarks = np.stack([self._landmarks(pixels, box) for box in boxes]) if len(boxes) else None
        if landmarks is None:
            return Detections.empty()
        return Detections(
            boxes=boxes.astype(np.float32),
            scores=hog_score(margins).astype(np.float32),
            landmarks=landmarks.astype(np.float32),
        )

    def _detect_yunet(self, pixels: np.ndarray, min_face_size: int, threshold: float) -> Detections:
        assert self._yunet is not None
        found = self._yunet.detect(pixels, min_face_size=min_face_size, threshold=threshold)
        if len(found.boxes) == 0:
            return Detections.empty()
        # Twice: in a box made from YuNet's, then in the box dlib's HOG detector would have
        # drawn around the points found (the predictor's points move with its box; the
        # second box depends on the face, not on the detector).
        first = np.stack([self._landmarks(pixels, box) for box in hog_like_boxes(found.boxes)])
        landmarks = np.stack([self._landmarks(pixels, box) for box in hog_boxes_around(first)])
        return Detections(boxes=found.boxes, scores=found.scores, landmarks=landmarks.astype(np.float32))

    def _scan(self, pixels: np.ndarray, scan: hog_schedule.Scan, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Faces one scan finds, in image coordinates, within its size range and away from its cuts."""
        region = pixels[scan.top : scan.bottom]
        if scan.grey:
            region = np.asarray(Image.fromarray(np.ascontiguousarray(region)).convert("L"))
        boxes, margins = self._run_hog(region, scan.scale, scan.padding, margin)
        boxes[:, [1, 3]] += scan.top
        sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        keep = (sides >= scan.min_side) & (sides < scan.max_side)
        if scan.cut_above:
            keep &= boxes[:, 1] > scan.top + CUT_TOLERANCE
        if scan.cut_below:
            keep &= boxes[:, 3] < scan.bottom - CUT_TOLERANCE
        return boxes[keep], margins[keep]

    def _run_hog(
        self, pixels: np.ndarray, scale: float, padding: float, margin: float
    ) -> tuple[np.ndarray, np.ndarray]:
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

    def _landmarks(self, pixels: np.ndarray, box: np.ndarray) -> np.ndarray:
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        shape = self._shape_predictor(pixels, self._dlib.rectangle(x1, y1, x2 - 1, y2 - 1))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        return l2_normalize(self._descriptor.describe(chips))

    def close(self) -> None:
        self._descriptor.close()
        if self._scanners is not None:
            self._scanners.shutdown(wait=True)
