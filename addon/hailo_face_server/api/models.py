"""The request and response models of the API's routes (see contract.py): one declaration each."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from hailo_face_server.api.contract import Model
from hailo_face_server.faces import Detections
from hailo_face_server.gallery.gallery import IdentityDetails
from hailo_face_server.gallery.store import FaceRecord, IdentityRecord, ImportSummary, NegativeRecord
from hailo_face_server.matching import Match
from hailo_face_server.ranges import MAX_FACES, MIN_FACE_SIZE, THRESHOLD
from hailo_face_server.sightings.review import ClusterList, LabelResult, RejectResult
from hailo_face_server.sightings.store import (
    ClusterSummary,
    SightingPage,
    SightingRecord,
    SightingSummary,
)

Outcome = Literal["named", "unknown", "ignored"]
Name = Annotated[str, Field(min_length=1, max_length=100, description="a person's name")]
SightingId = Annotated[int, Field(ge=1, le=2**63 - 1)]
# In a JSON body an id is a JSON integer: not true, "2" or 2.0.
StrictId = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
Time = Annotated[float, Field(ge=0, le=4_102_444_800, description="seconds since 1970 (UTC)")]
# A camera id such as camera.front_door: printable, no control characters.
Source = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# Parameters of the image routes

Threshold = Annotated[float, Field(ge=THRESHOLD.low, le=THRESHOLD.high)]
MaxFaces = Annotated[int, Field(ge=MAX_FACES.low, le=MAX_FACES.high, description="the largest faces kept")]
MinFaceSize = Annotated[
    int, Field(ge=MIN_FACE_SIZE.low, le=MIN_FACE_SIZE.high, description="smallest face looked for, in pixels")
]
MAX_COORDINATE = 1_000_000.0


def _box(value: Any) -> Any:
    """``[x1, y1, x2, y2]``, also as the text ``"x1,y1,x2,y2"`` (a query or form field)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if isinstance(value, (list, tuple)) and len(value) == 4:
        try:
            x1, y1, x2, y2 = (float(v) for v in value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError("expected four numbers") from None
        if not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for v in (x1, y1, x2, y2)):
            raise ValueError("coordinates are out of range")
        if x2 <= x1 or y2 <= y1:
            raise ValueError("expected x2 > x1 and y2 > y1")
        return [x1, y1, x2, y2]
    raise ValueError("expected [x1, y1, x2, y2]")


Box = Annotated[
    list[float],
    BeforeValidator(_box),
    Field(min_length=4, max_length=4, description="[x1, y1, x2, y2]; in a query or form as x1,y1,x2,y2"),
]


def box_array(box: list[float] | None) -> np.ndarray | None:
    return None if box is None else np.array(box, dtype=np.float64)


class _OldThreshold(Model):
    """``threshold`` was a detection score on /v1/detect and a naming confidence on /v1/recognize: each now
    has its own name, and ``threshold`` stays its alias for existing clients."""

    threshold: Threshold | None = Field(None, description="the old name of the threshold above")

    def _either(self, new: float | None, name: str) -> float | None:
        if new is not None and self.threshold is not None:
            raise ValueError(f'give "{name}" or its old name "threshold", not both')
        return new if new is not None else self.threshold


class DetectParams(_OldThreshold):
    detection_threshold: Threshold | None = Field(None, description="detection score a face needs")
    min_face_size: MinFaceSize | None = None
    max_faces: MaxFaces | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> DetectParams:
        self._either(self.detection_threshold, "detection_threshold")
        return self

    @property
    def score_needed(self) -> float | None:
        return self._either(self.detection_threshold, "detection_threshold")


class RecognizeParams(_OldThreshold):
    recognition_threshold: Threshold | None = Field(None, description="confidence needed to name a face")
    min_face_size: MinFaceSize | None = None
    max_faces: MaxFaces | None = None
    source: Source | None = Field(
        None, description="the camera (e.g. camera.front_door): its faces are kept as sightings"
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> RecognizeParams:
        self._either(self.recognition_threshold, "recognition_threshold")
        return self

    @property
    def confidence_needed(self) -> float | None:
        return self._either(self.recognition_threshold, "recognition_threshold")


class EmbedParams(Model):
    bbox: Box | None = Field(None, description="embed only the face best matching this box")
    min_face_size: MinFaceSize | None = None
    max_faces: MaxFaces | None = None


class AddParams(Model):
    name: str = Field(description="who: a new person, or one known (names ignore case)")
    bbox: Box | None = Field(None, description="which face, if several")
    pick: Literal["largest"] | None = Field(None, description="take the largest of several faces")
    min_face_size: MinFaceSize | None = None


class RenameBody(Model):
    name: str = Field(description="the new name")


class ListQuery(Model):
    kind: Literal["person", "ignored", "all"] = Field("person", description="people, ignored faces, or both")


class ImportQuery(Model):
    mode: Literal["merge", "replace"] = Field("merge", description="add to the gallery, or replace it")


# Requests


class SightingsQuery(Model):
    source: Source | None = Field(None, description="only this camera (e.g. camera.front_door)")
    person: Name | None = Field(None, description="only sightings named as this person")
    outcome: Outcome | None = Field(None, description="named, unknown or ignored")
    cluster_id: SightingId | None = Field(None, description="only the members of this unknown-face cluster")
    since: Time | None = Field(None, description="last seen at or after (seconds since 1970)")
    until: Time | None = Field(None, description="last seen before (seconds since 1970)")
    limit: int = Field(50, ge=1, le=500, description="at most this many (newest first)")
    cursor: str | None = Field(None, max_length=100, description="next_cursor of the previous page")


class ClustersQuery(Model):
    low_quality_limit: int = Field(50, ge=1, le=500, description="low-quality faces listed apart, newest first")


class LabelSightings(Model):
    sighting_ids: list[StrictId] = Field(min_length=1, max_length=1000)
    name: Name


class IgnoreSightings(Model):
    sighting_ids: list[StrictId] = Field(min_length=1, max_length=1000)


class LabelCluster(Model):
    name: Name


class Reject(Model):
    name: Name | None = Field(None, description="who it really is: the sighting is taught as them at once")


class Empty(Model):
    """A body with nothing in it: ``{}``."""


# Responses


class SightingOut(Model):
    id: int
    source: str
    first_seen: str
    last_seen: str
    times_seen: int
    outcome: Outcome
    identity_id: int | None
    name: str | None
    confidence: float
    bbox: list[float]
    detection_score: float
    face_size: float
    sharpness: float
    frontalness: float
    quality: float
    cluster_id: int | None
    labelled: bool
    rejected_identity_id: int | None
    image: str = Field(description="the path of the face's crop (JPEG), relative to this server")

    @classmethod
    def of(cls, record: SightingRecord) -> SightingOut:
        return cls(
            id=record.id,
            source=record.source,
            first_seen=iso(record.first_seen) or "",
            last_seen=iso(record.last_seen) or "",
            times_seen=record.times_seen,
            outcome=record.outcome,  # type: ignore[arg-type]
            identity_id=record.identity_id,
            name=record.identity_name,
            confidence=round(record.confidence, 4),
            bbox=[round(float(v), 1) for v in record.bbox],
            detection_score=round(record.detection_score, 4),
            face_size=round(record.face_size, 1),
            sharpness=round(record.sharpness, 3),
            frontalness=round(record.frontalness, 3),
            quality=round(record.quality, 3),
            cluster_id=record.cluster_id,
            labelled=record.labelled_at is not None,
            rejected_identity_id=record.rejected_identity_id,
            image=f"v1/sightings/{record.id}/image",
        )


class SightingsPage(Model):
    sightings: list[SightingOut]
    total: int
    next_cursor: str | None

    @classmethod
    def of(cls, page: SightingPage) -> SightingsPage:
        return cls(
            sightings=[SightingOut.of(r) for r in page.sightings], total=page.total, next_cursor=page.next_cursor
        )


class ClusterOut(Model):
    id: int
    size: int
    seen: int
    sources: list[str]
    first_seen: str
    last_seen: str
    best_sighting_ids: list[int]

    @classmethod
    def of(cls, cluster: ClusterSummary) -> ClusterOut:
        return cls(
            id=cluster.id,
            size=cluster.size,
            seen=cluster.seen,
            sources=list(cluster.sources),
            first_seen=iso(cluster.first_seen) or "",
            last_seen=iso(cluster.last_seen) or "",
            best_sighting_ids=list(cluster.best_sighting_ids),
        )


class ClustersOut(Model):
    clusters: list[ClusterOut]
    low_quality: SightingsPage

    @classmethod
    def of(cls, listing: ClusterList) -> ClustersOut:
        return cls(
            clusters=[ClusterOut.of(c) for c in listing.clusters], low_quality=SightingsPage.of(listing.low_quality)
        )


class ClusterDetail(Model):
    id: int
    sightings: list[SightingOut]


class IdentityOut(Model):
    id: int
    name: str
    kind: Literal["person", "ignored"]
    faces: int
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, record: IdentityRecord) -> IdentityOut:
        return cls(
            id=record.id,
            name=record.name,
            kind=record.kind,  # type: ignore[arg-type]
            faces=record.face_count,
            created_at=iso(record.created_at) or "",
            updated_at=iso(record.updated_at) or "",
        )


class Labelled(Model):
    identity: IdentityOut
    created: bool
    face_ids: list[int] = Field(description="the new face samples (the best and most varied sightings)")
    sighting_ids: list[int] = Field(description="every sighting now marked as this identity's")

    @classmethod
    def of(cls, result: LabelResult) -> Labelled:
        return cls(
            identity=IdentityOut.of(result.identity),
            created=result.created,
            face_ids=result.face_ids,
            sighting_ids=result.sighting_ids,
        )


class NegativeOut(Model):
    id: int
    identity_id: int
    model: str
    source: str | None
    seen_at: str | None
    sighting_id: int | None
    created_at: str

    @classmethod
    def of(cls, record: NegativeRecord) -> NegativeOut:
        return cls(
            id=record.id,
            identity_id=record.identity_id,
            model=record.model_id,
            source=record.source,
            seen_at=iso(record.seen_at),
            sighting_id=record.sighting_id,
            created_at=iso(record.created_at) or "",
        )


class Negatives(Model):
    identity: IdentityOut
    negatives: list[NegativeOut]


class Rejected(Model):
    negative: NegativeOut
    rejected: IdentityOut
    relabelled: Labelled | None = None
    cluster_id: int | None = None

    @classmethod
    def of(cls, result: RejectResult) -> Rejected:
        return cls(
            negative=NegativeOut.of(result.negative),
            rejected=IdentityOut.of(result.rejected),
            relabelled=Labelled.of(result.relabelled) if result.relabelled else None,
            cluster_id=result.cluster_id,
        )


class Deleted(Model):
    deleted_sighting_ids: list[int]


class DeletedNegative(Model):
    deleted_negative_id: int
    identity: IdentityOut


class SourceCount(Model):
    source: str
    sightings: int
    last_seen: str
    last_sighting_id: int
    last_outcome: Outcome
    last_name: str | None


class PersonSeen(Model):
    identity_id: int
    name: str
    last_seen: str
    source: str
    confidence: float
    sighting_id: int


class Summary(Model):
    sources: list[SourceCount]
    people: list[PersonSeen]
    totals: dict[str, int]

    @classmethod
    def of(cls, summary: SightingSummary) -> Summary:
        return cls(
            sources=[
                SourceCount(
                    source=row.source,
                    sightings=row.count,
                    last_seen=iso(row.last_seen) or "",
                    last_sighting_id=row.last_sighting_id,
                    last_outcome=row.last_outcome,  # type: ignore[arg-type]
                    last_name=row.last_identity_name,
                )
                for row in summary.sources
            ],
            people=[
                PersonSeen(
                    identity_id=row.identity_id,
                    name=row.name,
                    last_seen=iso(row.last_seen) or "",
                    source=row.source,
                    confidence=round(row.confidence, 4),
                    sighting_id=row.sighting_id,
                )
                for row in summary.identities
            ],
            totals={
                "sightings": summary.total,
                "named": summary.named,
                "unknown": summary.unknown,
                "ignored": summary.ignored,
            },
        )


# Results of the image and gallery routes


class DetectedFace(Model):
    bbox: list[float]
    score: float

    @classmethod
    def at(cls, detections: Detections, i: int) -> DetectedFace:
        return cls(bbox=_rounded(detections.boxes[i], 1), score=round(float(detections.scores[i]), 4))


class FaceWithLandmarks(DetectedFace):
    landmarks: list[list[float]] = Field(description="five [x, y] points; /v1/info says which")


class DetectResult(Model):
    width: int
    height: int
    faces: list[FaceWithLandmarks]
    timings_ms: dict[str, float]


class EmbeddedFace(DetectedFace):
    embedding: list[float] = Field(description="unit length: the dot product of two is their cosine similarity")


class EmbedResult(Model):
    model: str
    dim: int
    width: int
    height: int
    faces: list[EmbeddedFace]
    timings_ms: dict[str, float]


class RecognizedFace(DetectedFace):
    name: str | None = Field(description="null when unknown or ignored")
    identity_id: int | None
    outcome: Outcome
    similarity: float
    confidence: float = Field(ge=0, le=1)
    sighting_id: int | None = Field(description="the sighting kept for this face (with a source, sightings on)")

    @classmethod
    def of(cls, detections: Detections, i: int, match: Match, sighting_id: int | None) -> RecognizedFace:
        return cls(
            bbox=_rounded(detections.boxes[i], 1),
            score=round(float(detections.scores[i]), 4),
            name=None if match.ignored else match.name,
            identity_id=match.identity_id,
            outcome=match.outcome,  # type: ignore[arg-type]
            similarity=round(match.similarity, 4),
            confidence=round(match.confidence, 4),
            sighting_id=sighting_id,
        )


class RecognizeResult(Model):
    width: int
    height: int
    faces: list[RecognizedFace]
    timings_ms: dict[str, float]


class Sample(Model):
    id: int
    model: str
    usable: bool = Field(description="it has an embedding of the running model")
    created_at: str
    source: str | None = Field(description="the camera it was seen by, for a sample taken from a sighting")
    seen_at: str | None

    @classmethod
    def of(cls, face: FaceRecord, model_id: str) -> Sample:
        return cls(
            id=face.id,
            model=face.source_model,
            usable=model_id in face.models,
            created_at=iso(face.created_at) or "",
            source=face.source,
            seen_at=iso(face.seen_at),
        )


class IdentityWithSamples(IdentityOut):
    samples: list[Sample]
    negatives: list[NegativeOut] = Field(description='faces the owner said are not this person ("reject")')
    avatar_face_id: int | None = Field(
        description="the sample to show for this person: the one nearest the mean of their samples"
    )

    @classmethod
    def of_details(cls, details: IdentityDetails, model_id: str, avatar_face_id: int | None) -> IdentityWithSamples:
        return cls(
            **IdentityOut.of(details.record).model_dump(),
            avatar_face_id=avatar_face_id,
            samples=[Sample.of(f, model_id) for f in details.faces],
            negatives=[NegativeOut.of(n) for n in details.negatives],
        )


class IdentityList(Model):
    identities: list[IdentityWithSamples]
    total: int


class AddResult(Model):
    identity: IdentityOut
    face_id: int
    created: bool
    face: DetectedFace
    timings_ms: dict[str, float]


class DeletedIdentity(Model):
    deleted: IdentityOut


class RenamedIdentity(Model):
    identity: IdentityOut


class DeletedFace(Model):
    deleted_face_id: int
    identity: IdentityOut


class ImportResult(Model):
    mode: Literal["merge", "replace"]
    identities_created: int
    faces: int
    embeddings: int
    embeddings_dropped: int = Field(description="of models this server does not know: their crops are embedded again")

    @classmethod
    def of(cls, mode: str, summary: ImportSummary) -> ImportResult:
        return cls(
            mode=mode,  # type: ignore[arg-type]
            identities_created=summary.identities_created,
            faces=summary.faces,
            embeddings=summary.embeddings,
            embeddings_dropped=summary.embeddings_dropped,
        )


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return [round(float(v), digits) for v in values]
