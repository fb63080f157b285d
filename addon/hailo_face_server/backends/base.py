"""A backend: a detector, the landmark adapter it may need, and an embedder, composed.

Every backend has the same shape: a 5-landmark detector -> (an adapter when
the embedder takes other landmarks) -> the embedder's aligner -> the
embedder. Backends differ only in their parts (backends/cpu.py,
backends/hailo.py). A backend is used from the inference worker; a device's
runs never overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hailo_face_server.detectors.base import FaceDetector, LandmarkAdapter
from hailo_face_server.embedders.base import FaceEmbedder
from hailo_face_server.faces import Detections, LandmarkScheme
from hailo_face_server.frames import Frame
from hailo_face_server.matching import SimilarityCalibration


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


class FaceBackend:
    """Detect faces, and embed them from the full-resolution frame."""

    def __init__(
        self,
        *,
        name: str,
        device: str,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        adapter: LandmarkAdapter | None = None,
        extra: dict[str, object] | None = None,
        health: Callable[[], str | None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if (adapter.target if adapter else detector.scheme) != embedder.scheme:
            raise ValueError(f"{embedder.name} takes {embedder.scheme} landmarks; nothing gives them")
        self.detector = detector
        self.adapter = adapter
        self.embedder = embedder
        self.aligner = embedder.aligner
        # How many requests may run at once: 1 for a device, more where the parts are safe to share.
        self.concurrency = embedder.concurrency
        self._health = health
        self._on_close = on_close
        models = {"detector": detector.name, "embedder": embedder.name}
        if adapter is not None:
            models["landmarks"] = adapter.name
        self.info = BackendInfo(
            name=name,
            model_id=embedder.model_id,
            embedding_dim=embedder.dimension,
            models=models,
            landmark_scheme=str(embedder.scheme),
            device=device,
            calibration=embedder.calibration,
            extra=extra or {},
        )

    @property
    def problem(self) -> str | None:
        """Set when the backend failed in a way only a restart mends (e.g. a device timeout)."""
        return self._health() if self._health is not None else None

    @property
    def scheme(self) -> LandmarkScheme:
        return self.embedder.scheme

    def detect(self, frame: Frame, *, min_face_size: int, threshold: float) -> Detections:
        """Faces of at least ``min_face_size`` pixels scoring at least ``threshold``, with the embedder's landmarks."""
        found = self.detector.detect(frame, min_face_size=min_face_size, threshold=threshold)
        return self.adapter.adapt(frame, found) if self.adapter is not None else found

    def align(self, frame: Frame, detections: Detections) -> np.ndarray:
        if detections.scheme != self.embedder.scheme:
            raise ValueError(f"{self.embedder.name} aligns {self.embedder.scheme} landmarks, not {detections.scheme}")
        return self.aligner.align(frame, detections.landmarks)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """N aligned chips (N x S x S x 3 uint8) to N L2-normalised float32 vectors."""
        return self.embedder.embed(chips)

    def close(self) -> None:
        """Release helper processes and devices (each part, even when another fails to close)."""
        try:
            self.embedder.close()
        finally:
            try:
                self.detector.close()
            finally:
                if self._on_close is not None:
                    self._on_close()


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
