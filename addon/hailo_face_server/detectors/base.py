"""What a face detector is: a frame in, faces with five landmarks of the detector's scheme out."""

from __future__ import annotations

from abc import ABC, abstractmethod

from hailo_face_server.faces import Detections, LandmarkScheme
from hailo_face_server.frames import Frame


class FaceDetector(ABC):
    """Finds faces; used from one thread at a time unless the backend says otherwise."""

    name: str  # the model, as /v1/info reports it
    scheme: LandmarkScheme

    @abstractmethod
    def detect(self, frame: Frame, *, min_face_size: int, threshold: float) -> Detections:
        """Faces of at least ``min_face_size`` pixels scoring at least ``threshold``, in the frame's coordinates."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the detector holds."""


class LandmarkAdapter(ABC):
    """Finds the landmarks an embedder needs, for faces a detector found with other landmarks."""

    name: str
    source: LandmarkScheme
    target: LandmarkScheme

    @abstractmethod
    def adapt(self, frame: Frame, detections: Detections) -> Detections:
        """The same faces, with landmarks of ``target``."""
