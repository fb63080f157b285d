"""What a face embedder is: aligned chips in, L2-normalised vectors out, and the aligner that cuts its chips."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

import numpy as np

from hailo_face_server.faces import LandmarkScheme
from hailo_face_server.frames import Frame
from hailo_face_server.matching import SimilarityCalibration


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalized: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalized


class FaceAligner(Protocol):
    chip_size: int

    def align(self, frame: Frame, landmarks: np.ndarray) -> np.ndarray:
        """Chips (N x S x S x 3 uint8) for the faces with these N x 5 x 2 landmarks, cut from the full frame."""
        ...


class FaceEmbedder(ABC):
    name: str  # the model, as /v1/info reports it
    model_id: str  # embeddings of different model ids are never compared
    dimension: int
    scheme: LandmarkScheme  # the landmarks its aligner takes
    aligner: FaceAligner
    calibration: SimilarityCalibration
    concurrency: int = 1  # requests that may embed at once

    @abstractmethod
    def embed(self, chips: np.ndarray) -> np.ndarray:
        """N aligned chips (N x S x S x 3 uint8) to N L2-normalised float32 vectors."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release helper processes or devices."""
