"""The interface every inference backend implements.

A backend is used from one thread at a time (the inference worker), so an
accelerator never sees two requests at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from hailo_face_server.alignment import FaceAligner
from hailo_face_server.matching import SimilarityCalibration


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalized: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalized


class BackendUnavailable(Exception):
    """The backend cannot start here; the message says why and what to do, the code what kind of problem."""

    def __init__(self, message: str, code: str = "unavailable") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class BackendInfo:
    name: str
    model_id: str  # embeddings of different model ids are never compared
    embedding_dim: int
    models: dict[str, str]
    landmark_scheme: str
    device: str
    calibration: SimilarityCalibration
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Detections:
    """Faces found in one image, in that image's pixel coordinates."""

    boxes: np.ndarray  # N x 4 float32, x1 y1 x2 y2
    scores: np.ndarray  # N float32, 0..1
    landmarks: np.ndarray  # N x 5 x 2 float32

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
        )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def select(self, indices: np.ndarray | list[int]) -> Detections:
        index = np.asarray(indices, dtype=np.intp)
        return Detections(self.boxes[index], self.scores[index], self.landmarks[index])


class FaceBackend(ABC):
    """Detect faces, and embed aligned face chips in a batch."""

    info: BackendInfo
    aligner: FaceAligner
    # How many requests may run at once: 1 for a device, more where the
    # backend is safe to call from several threads.
    concurrency: int = 1
    # Set when the backend failed in a way only a restart mends (e.g. a device timeout).
    problem: str | None = None

    @abstractmethod
    def detect(self, pixels: np.ndarray, *, min_face_size: int, threshold: float) -> Detections:
        """Faces of at least ``min_face_size`` pixels with a score of at least ``threshold``."""

    @abstractmethod
    def embed(self, chips: np.ndarray) -> np.ndarray:
        """N aligned chips (N x S x S x 3 uint8) to N L2-normalised float32 vectors."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release the device or helper processes."""


@dataclass(frozen=True)
class Fallback:
    """Why the backend in use is not the one preferred."""

    preferred: str  # the backend that could not start
    code: str  # BackendUnavailable.code, e.g. device_busy
    reason: str


@dataclass(frozen=True)
class BackendChoice:
    """The backend that started, and the fallback that led to it, if any."""

    backend: FaceBackend
    fallback: Fallback | None = None
