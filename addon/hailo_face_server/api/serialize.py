"""Plain JSON shapes of results."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hailo_face_server.faces import Detections
from hailo_face_server.gallery.gallery import IdentityDetails
from hailo_face_server.gallery.store import IdentityRecord
from hailo_face_server.matching import Match


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def box(values: np.ndarray) -> list[float]:
    return [round(float(v), 1) for v in values]


def detected_face(detections: Detections, index: int, *, landmarks: bool = False) -> dict[str, Any]:
    face: dict[str, Any] = {
        "bbox": box(detections.boxes[index]),
        "score": round(float(detections.scores[index]), 4),
    }
    if landmarks:
        face["landmarks"] = [[round(float(x), 1), round(float(y), 1)] for x, y in detections.landmarks[index]]
    return face


def recognized_face(detections: Detections, index: int, match: Match, sighting_id: int | None) -> dict[str, Any]:
    """A face with its outcome: named, unknown, or ignored (a poster, a TV: no name, never unknown)."""
    face = {
        **detected_face(detections, index),
        "name": None if match.ignored else match.name,
        "identity_id": match.identity_id,
        "outcome": match.outcome,
        "similarity": round(match.similarity, 4),
        "confidence": round(match.confidence, 4),
    }
    if sighting_id is not None:
        face["sighting_id"] = sighting_id
    return face


def plain(value: Any) -> Any:
    """A status dataclass as JSON data: fields that are None left out, ``metadata["json"]`` renames a key."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.metadata.get("json", field.name): plain(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if getattr(value, field.name) is not None
        }
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def embedding(vector: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in vector]


def identity(record: IdentityRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "kind": record.kind,
        "faces": record.face_count,
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(record.updated_at),
    }


def identity_with_samples(details: IdentityDetails, model_id: str) -> dict[str, Any]:
    return {
        **identity(details.record),
        "samples": [
            {
                "id": face.id,
                "model": face.source_model,
                "usable": model_id in face.models,
                "created_at": timestamp(face.created_at),
            }
            for face in details.faces
        ],
    }
