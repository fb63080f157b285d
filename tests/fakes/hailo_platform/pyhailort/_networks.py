"""The fake device's networks: what SCRFD and ArcFace would output, computed with dlib.

SCRFD: dlib's HOG detector and 68-point landmarks find the faces of the
640 x 640 input; each face is written into the raw heads the way SCRFD
predicts it (score at the anchor of the cell holding the face's centre, box
distances and keypoint offsets in units of the stride), plus a weaker
duplicate for NMS to remove, then quantised to uint8.

ArcFace: the aligned 112 x 112 chip is re-aligned the way dlib's ResNet
wants it, described, centred on a mean face and rotated into 512-D.  The
vector is scaled and quantised like a network's output.  Its similarities
are dlib's, not ArcFace's: nothing about recognition accuracy or the ArcFace
calibration can be learnt from this fake.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlib
import face_recognition_models
import numpy as np
from PIL import Image

SCRFD_SIZE = 640
STRIDES = (8, 16, 32)
ARCFACE_DIM = 512
ARCFACE_NORM = 10.0


@dataclass(frozen=True)
class Stream:
    name: str
    shape: tuple[int, ...]
    scale: float = 1.0
    zero_point: float = 0.0

    def quantize(self, values: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(values / self.scale + self.zero_point), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Network:
    name: str
    input: Stream
    outputs: tuple[Stream, ...]
    kind: str

    def infer(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        if self.kind == "scrfd":
            return _scrfd(self, frame)
        return _arcface(self, frame)


@functools.cache
def _models() -> dict[str, Any]:
    return {
        "detector": dlib.get_frontal_face_detector(),
        "landmarks68": dlib.shape_predictor(face_recognition_models.pose_predictor_model_location()),
        "landmarks5": dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()),
        "resnet": dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location()),
    }


def _scrfd_network(name: str, prefix: str, layers: tuple[int, ...]) -> Network:
    outputs = []
    for stride, (score, box, keypoints) in zip(STRIDES, np.reshape(layers, (3, 3)), strict=True):
        cells = SCRFD_SIZE // stride
        outputs += [
            Stream(f"{prefix}/conv{score}", (cells, cells, 2), scale=1 / 255),
            Stream(f"{prefix}/conv{box}", (cells, cells, 8), scale=0.05),
            Stream(f"{prefix}/conv{keypoints}", (cells, cells, 20), scale=0.05, zero_point=128),
        ]
    return Network(name, Stream(f"{prefix}/input_layer1", (SCRFD_SIZE, SCRFD_SIZE, 3)), tuple(outputs), "scrfd")


NETWORKS = {
    # Output layer names of these HEFs as hailo-apps' SCRFD post-processing (scrfd.cpp) reads them.
    "scrfd_10g": _scrfd_network("scrfd_10g", "scrfd_10g", (41, 42, 43, 49, 50, 51, 56, 57, 58)),
    "scrfd_2.5g": _scrfd_network("scrfd_2.5g", "scrfd_2_5g", (42, 43, 44, 49, 50, 51, 55, 56, 57)),
    "arcface_mobilefacenet": Network(
        "arcface_mobilefacenet",
        Stream("arcface_mobilefacenet/input_layer1", (112, 112, 3)),
        (Stream("arcface_mobilefacenet/fc1", (ARCFACE_DIM,), scale=0.015, zero_point=128),),
        "arcface",
    ),
}


def _faces(frame: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Boxes, five ArcFace keypoints and scores of the faces in a frame."""
    models = _models()
    rects, margins, _ = models["detector"].run(frame, 1, 0.0)
    found = [
        (np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], float), m)
        for r, m in zip(rects, margins, strict=True)
    ]
    # Faces filling the frame: look again on a small copy with a border.
    small = 200 / max(frame.shape[:2])
    pad = 50
    shrunk = np.asarray(Image.fromarray(frame).resize((round(frame.shape[1] * small), round(frame.shape[0] * small))))
    padded = np.pad(shrunk, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    rects, margins, _ = models["detector"].run(np.ascontiguousarray(padded), 0, 0.0)
    for r, m in zip(rects, margins, strict=True):
        box = (np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], float) - pad) / small
        if all(_overlap(box, other) < 0.4 for other, _ in found):
            found.append((box, m))
    faces = []
    for box, margin in found:
        rect = dlib.rectangle(*(round(float(v)) for v in box))
        points = np.array([[p.x, p.y] for p in models["landmarks68"](frame, rect).parts()], float)
        keypoints = np.array(
            [points[36:42].mean(axis=0), points[42:48].mean(axis=0), points[30], points[48], points[54]]
        )
        faces.append((box, keypoints, float(1 / (1 + np.exp(-2 * margin)))))
    return faces


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _scrfd(network: Network, frame: np.ndarray) -> dict[str, np.ndarray]:
    heads = {
        stride: [np.zeros(stream.shape, np.float32) for stream in network.outputs[i * 3 : i * 3 + 3]]
        for i, stride in enumerate(STRIDES)
    }
    for box, keypoints, score in _faces(frame):
        side = max(box[2] - box[0], box[3] - box[1])
        stride = 8 if side < 64 else 16 if side < 192 else 32
        scores, boxes, offsets = heads[stride]
        cells = SCRFD_SIZE // stride
        col = min(cells - 1, max(0, int((box[0] + box[2]) / 2 // stride)))
        row = min(cells - 1, max(0, int((box[1] + box[3]) / 2 // stride)))
        point = np.array([col * stride, row * stride], float)
        for anchor, (shift, weight) in enumerate(((0.0, 1.0), (1.5, 0.8))):
            shifted = box + shift
            scores[row, col, anchor] = score * weight
            distances = [point[0] - shifted[0], point[1] - shifted[1], shifted[2] - point[0], shifted[3] - point[1]]
            boxes[row, col, 4 * anchor : 4 * anchor + 4] = np.array(distances) / stride
            offsets[row, col, 10 * anchor : 10 * anchor + 10] = ((keypoints + shift - point) / stride).reshape(-1)
    result = {}
    for i, stride in enumerate(STRIDES):
        for stream, values in zip(network.outputs[i * 3 : i * 3 + 3], heads[stride], strict=True):
            result[stream.name] = stream.quantize(values)
    return result


def _describe(chip: np.ndarray) -> np.ndarray:
    """dlib's descriptor of a face chip aligned any way: find its landmarks, re-align, describe."""
    models = _models()
    big = np.asarray(Image.fromarray(chip).resize((224, 224), Image.Resampling.BILINEAR))
    # Where an ArcFace-aligned face sits in the chip, scaled to 224 px.
    shape = models["landmarks5"](big, dlib.rectangle(10, 30, 214, 234))
    aligned = dlib.get_face_chip(big, shape, size=150, padding=0.25)
    vector = np.asarray(models["resnet"].compute_face_descriptor(aligned), dtype=np.float64)
    return vector / np.linalg.norm(vector)


@functools.cache
def _embedding_space() -> tuple[np.ndarray, np.ndarray]:
    """A mean face descriptor to centre on, and a fixed 512 x 128 rotation."""
    faces = Path(os.environ.get("TEST_FACES_DIR", Path(__file__).resolve().parents[5] / "shared" / "faces"))
    models = _models()
    descriptors = []
    for path in sorted((faces / "people").glob("*/*1.png")):
        pixels = np.asarray(Image.open(path).convert("RGB").resize((300, 300)))
        rects = models["detector"](pixels, 0)
        if len(rects):
            shape = models["landmarks5"](pixels, rects[0])
            vector = np.asarray(models["resnet"].compute_face_descriptor(pixels, shape))
            descriptors.append(vector / np.linalg.norm(vector))
    if not descriptors:
        raise RuntimeError(f"the fake ArcFace needs the test photographs in {faces}")
    rotation, _ = np.linalg.qr(np.random.default_rng(2024).standard_normal((ARCFACE_DIM, 128)))
    return np.mean(descriptors, axis=0), rotation


def _arcface(network: Network, frame: np.ndarray) -> dict[str, np.ndarray]:
    mean, rotation = _embedding_space()
    centred = _describe(frame) - mean
    vector = rotation @ (centred / np.linalg.norm(centred)) * ARCFACE_NORM
    (stream,) = network.outputs
    return {stream.name: stream.quantize(vector)}
