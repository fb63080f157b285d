"""SCRFD post-processing on the host: letterbox in, raw head outputs to faces out.

SCRFD predicts, for every cell of three feature maps (strides 8, 16, 32) and
two anchors per cell, a face score, the distances from the cell's corner
point to the four sides of the box, and five keypoints as offsets from that
point, all in units of the stride (Guo et al., 2021).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hailo_face_server.detectors.base import FaceDetector
from hailo_face_server.faces import Detections, LandmarkScheme
from hailo_face_server.frames import Frame
from hailo_face_server.geometry import non_max_suppression
from hailo_face_server.runtimes.hailo import HailoNetwork, HailoRuntime
from hailo_face_server.unavailable import BackendUnavailable

STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
NMS_IOU = 0.4
# Hailo's letterbox pads with this grey; the network saw it in Hailo's pipelines.
LETTERBOX_FILL = 114


@dataclass(frozen=True)
class HeadOutputs:
    """One stride's raw outputs, dequantised: H x W x (A), (4A), (10A)."""

    scores: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray


@dataclass(frozen=True)
class Letterbox:
    """How an image was scaled and padded into the square network input."""

    scale: float
    pad_x: int
    pad_y: int

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Map x, y pairs (last axis of size 2k) from network input to image pixels."""
        offsets = np.tile([self.pad_x, self.pad_y], points.shape[-1] // 2)
        mapped: np.ndarray = (points - offsets) / self.scale
        return mapped


def letterbox_geometry(width: int, height: int, size: int) -> Letterbox:
    scale = min(size / width, size / height)
    scaled_w, scaled_h = round(width * scale), round(height * scale)
    return Letterbox(scale=scale, pad_x=(size - scaled_w) // 2, pad_y=(size - scaled_h) // 2)


def letterbox_image(frame: Frame, size: int) -> tuple[np.ndarray, Letterbox]:
    """The frame scaled to fit a size x size square, centred on Hailo's grey.

    Shrunk as SCRFD's own pipeline shrinks (insightface's ``scrfd.py``: OpenCV's bilinear
    resize, which samples a 1080p frame's 3 x 3 blocks at their centre pixels).
    """
    geometry = letterbox_geometry(frame.width, frame.height, size)
    resized = frame.scaled(geometry.scale, centre_samples=True).pixels
    scaled_h, scaled_w = resized.shape[:2]
    canvas = np.full((size, size, 3), LETTERBOX_FILL, dtype=np.uint8)
    canvas[geometry.pad_y : geometry.pad_y + scaled_h, geometry.pad_x : geometry.pad_x + scaled_w] = resized
    return canvas, geometry


def anchor_points(height: int, width: int, stride: int, anchors: np.ndarray | None = None) -> np.ndarray:
    """The (x, y) point of every anchor (or of the ``anchors`` numbered), row-major over cells, a cell's adjacent.

    Only the anchors asked for are worked out: a frame's few faces, not the 16,800 anchors of a 640 px input.
    """
    numbers = np.arange(height * width * ANCHORS_PER_CELL) if anchors is None else np.asarray(anchors)
    cells = numbers // ANCHORS_PER_CELL
    points: np.ndarray = np.stack([cells % width, cells // width], axis=-1).astype(np.float32) * stride
    return points


def distances_to_boxes(points: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Left, top, right, bottom distances from each point to x1, y1, x2, y2."""
    return np.concatenate([points - distances[:, :2], points + distances[:, 2:]], axis=1)


def offsets_to_keypoints(points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Five (dx, dy) offsets from each point to five (x, y) keypoints: N x 5 x 2."""
    keypoints: np.ndarray = offsets.reshape(-1, 5, 2) + points[:, None, :]
    return keypoints


def decode(heads: Mapping[int, HeadOutputs], threshold: float, letterbox: Letterbox) -> Detections:
    """Faces above ``threshold`` in image coordinates, after non-maximum suppression."""
    boxes, scores, keypoints = [], [], []
    for stride, head in heads.items():
        height, width = head.scores.shape[:2]
        flat_scores = head.scores.reshape(-1)
        keep = np.flatnonzero(flat_scores >= threshold)
        if len(keep) == 0:
            continue
        points = anchor_points(height, width, stride, keep)
        distances = head.boxes.reshape(-1, 4)[keep] * stride
        offsets = head.keypoints.reshape(-1, 10)[keep] * stride
        boxes.append(distances_to_boxes(points, distances))
        keypoints.append(offsets_to_keypoints(points, offsets))
        scores.append(flat_scores[keep])
    if not boxes:
        return Detections.empty(LandmarkScheme.ARCFACE_5)
    all_boxes = np.concatenate(boxes)
    all_scores = np.concatenate(scores)
    kept = non_max_suppression(all_boxes, all_scores, NMS_IOU)
    image_boxes = letterbox.to_image(all_boxes[kept])
    image_keypoints = letterbox.to_image(np.concatenate(keypoints)[kept].reshape(-1, 10)).reshape(-1, 5, 2)
    return Detections(
        boxes=image_boxes.astype(np.float32),
        scores=all_scores[kept].astype(np.float32),
        landmarks=image_keypoints.astype(np.float32),
        scheme=LandmarkScheme.ARCFACE_5,
    )


def group_outputs(outputs: Mapping[str, np.ndarray], input_size: int) -> dict[int, HeadOutputs]:
    """Sort the nine raw outputs into heads by their shape: H x W gives the stride, channels the kind."""
    by_stride: dict[int, dict[int, np.ndarray]] = {}
    for name, tensor in outputs.items():
        array = np.asarray(tensor, dtype=np.float32)
        if array.ndim == 4 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 3:
            raise ValueError(f"SCRFD output {name} has shape {tensor.shape}; expected H x W x C")
        stride = input_size // array.shape[0]
        by_stride.setdefault(stride, {})[array.shape[2]] = array
    heads: dict[int, HeadOutputs] = {}
    for stride in STRIDES:
        kinds = by_stride.get(stride, {})
        channels = (ANCHORS_PER_CELL, 4 * ANCHORS_PER_CELL, 10 * ANCHORS_PER_CELL)
        if sorted(kinds) != sorted(channels):
            raise ValueError(
                f"SCRFD outputs for stride {stride} have channels {sorted(kinds)}; expected {list(channels)}"
            )
        heads[stride] = HeadOutputs(scores=kinds[channels[0]], boxes=kinds[channels[1]], keypoints=kinds[channels[2]])
    return heads


class ScrfdDetector(FaceDetector):
    """SCRFD on a Hailo: the frame letterboxed into the network's square input, decoded on the host."""

    scheme = LandmarkScheme.ARCFACE_5

    def __init__(self, runtime: HailoRuntime, network: HailoNetwork) -> None:
        self._runtime = runtime
        self._network = network
        self.name = network.hef.stem
        self.input_size = network.input_shape[0]
        if network.input_shape != (self.input_size, self.input_size, 3):
            raise BackendUnavailable(
                f"{network.hef} takes {network.input_shape}; a face detector takes S x S x 3.", "wrong_model"
            )
        try:
            group_outputs({n: np.zeros(s, np.float32) for n, s in network.output_shapes.items()}, self.input_size)
        except ValueError as err:
            raise BackendUnavailable(f"{network.hef} does not look like SCRFD: {err}", "wrong_model") from err

    def detect(self, frame: Frame, *, min_face_size: int, threshold: float) -> Detections:
        canvas, geometry = letterbox_image(frame, self.input_size)
        outputs = self._runtime.run(self._network, canvas[None])
        heads = group_outputs({name: tensor[0] for name, tensor in outputs.items()}, self.input_size)
        found = decode(heads, threshold, geometry)
        sides = np.maximum(found.boxes[:, 2] - found.boxes[:, 0], found.boxes[:, 3] - found.boxes[:, 1])
        return found.select(np.flatnonzero(sides >= 0.9 * min_face_size))
