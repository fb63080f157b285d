"""The request and response models of the sightings, clusters and review routes (see contract.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field

from hailo_face_server.api.contract import Model
from hailo_face_server.gallery.store import IdentityRecord, NegativeRecord
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
Time = Annotated[float, Field(ge=0, le=4_102_444_800, description="seconds since 1970 (UTC)")]
# A camera id such as camera.front_door: printable, no control characters.
Source = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# Requests


class SightingsQuery(Model):
    source: Source | None = Field(None, description="only this camera (e.g. camera.front_door)")
    person: Name | None = Field(None, description="only sightings named as this person")
    outcome: Outcome | None = Field(None, description="named, unknown or ignored")
    cluster_id: SightingId | None = Field(None, description="only the members of this unknown-face cluster")
    since: Time | None = Field(None, description="last seen at or after (seconds since 1970)")
    until: Time | None = Field(None, description="last seen at or before (seconds since 1970)")
    limit: int = Field(50, ge=1, le=500, description="at most this many (newest first)")
    cursor: str | None = Field(None, max_length=100, description="next_cursor of the previous page")


class ClustersQuery(Model):
    low_quality_limit: int = Field(50, ge=0, le=500, description="low-quality faces listed apart, newest first")


class LabelSightings(Model):
    sighting_ids: list[SightingId] = Field(min_length=1, max_length=1000)
    name: Name


class IgnoreSightings(Model):
    sighting_ids: list[SightingId] = Field(min_length=1, max_length=1000)


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
