"""What the server reports about itself (/health, /v1/info), as typed data the API serialises.

A field that is None is left out of the JSON: /health of a server that is
still starting has no backend yet, and a healthy one no problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

STATUS_STARTING = "starting"
STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_DEGRADED = "degraded"


@dataclass(frozen=True)
class QueueStatus:
    depth: int
    max: int


@dataclass(frozen=True)
class FallbackStatus:
    preferred: Annotated[str, Field(serialization_alias="from")]  # the backend that could not start
    code: str
    reason: str


@dataclass(frozen=True)
class ReembeddingStatus:
    model: str
    total: int
    done: int
    failed: int
    running: bool


@dataclass(frozen=True)
class SightingsStatus:
    enabled: bool
    stored: int
    unknown_clusters: int
    bytes: int


@dataclass(frozen=True)
class Health:
    status: str
    server_id: str | None
    version: str
    uptime_s: float
    queue: QueueStatus
    error: str | None = None
    backend: str | None = None
    device: str | None = None
    models: dict[str, str] | None = None
    model_id: str | None = None
    backend_details: dict[str, object] | None = None
    problem: str | None = None
    fallback: FallbackStatus | None = None
    identities: int | None = None
    faces: int | None = None
    faces_pending: int | None = None
    index_samples: int | None = None
    startup_s: float | None = None
    reembedding: ReembeddingStatus | None = None
    sightings: SightingsStatus | None = None


@dataclass(frozen=True)
class Limits:
    max_body_mb: float
    max_image_megapixels: float
    max_queue_size: int
    request_timeout_s: float


@dataclass(frozen=True)
class Info:
    server_id: str
    version: str
    backend: str
    device: str
    models: dict[str, str]
    model_id: str
    embedding_dim: int
    landmarks: str
    recognition_threshold: float
    recognition_threshold_similarity: float
    detection_threshold: float
    max_faces: int
    min_face_size: int
    limits: Limits
    sightings: bool  # whether faces seen with a `source` are kept
