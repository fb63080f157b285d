"""The owner's review of what the cameras saw: the feed, clusters, labelling, ignoring, "not this person".

Labelling a cluster (or any sightings) as a person makes the best and most
varied of them face samples of that person, with their provenance (camera and
time); the rest are marked as theirs. Ignoring makes them an ignored identity,
matched like a person and reported as ``ignored``. Rejecting a named sighting
stores its embedding as a negative of that identity, which matching then
refuses for faces nearer the negative than the identity's best sample.

Store and clusters are touched on the sightings thread; the gallery on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from hailo_face_server.engine import OneThread
from hailo_face_server.errors import InvalidRequest, NotFound, NotNamed
from hailo_face_server.gallery import Gallery
from hailo_face_server.gallery.gallery import AddedFace
from hailo_face_server.gallery.names import normalize_name
from hailo_face_server.gallery.store import IGNORED, PERSON, IdentityRecord, NegativeRecord, NewFace, NewNegative
from hailo_face_server.sightings.quality import GOOD_QUALITY
from hailo_face_server.sightings.recorder import SightingRecorder
from hailo_face_server.sightings.store import (
    ClusterSummary,
    SightingPage,
    SightingQuery,
    SightingRecord,
    SightingSummary,
)

_LOGGER = logging.getLogger(__name__)

LABEL_SAMPLES = 5  # samples a label adds at most: the best views, as different from each other as can be
NEAR_BEST_QUALITY = 0.8  # views chosen for variety must keep this share of the best view's quality
MAX_SIGHTINGS_PER_ACTION = 1000


@dataclass(frozen=True)
class Chosen:
    """Sightings to label, and those of them that become samples (with their unit embeddings)."""

    records: list[SightingRecord]
    samples: list[tuple[SightingRecord, np.ndarray]]


@dataclass(frozen=True)
class LabelResult:
    identity: IdentityRecord
    created: bool
    face_ids: list[int]  # the new samples
    sighting_ids: list[int]  # every sighting now marked as the identity's


@dataclass(frozen=True)
class RejectResult:
    negative: NegativeRecord
    rejected: IdentityRecord
    relabelled: LabelResult | None  # "this is Bob, not Alice"
    cluster_id: int | None  # the unknown cluster the sighting joined, if it did


@dataclass(frozen=True)
class ClusterList:
    clusters: list[ClusterSummary]
    low_quality: SightingPage


def choose_samples(quality: np.ndarray, vectors: np.ndarray, count: int) -> list[int]:
    """The best view, then each time the good view least like those chosen (farthest-point order).

    Varied samples (turned, lit, near and far) teach more than five copies of the best frame.
    """
    if len(quality) == 0 or count <= 0:
        return []
    good = np.flatnonzero(quality >= NEAR_BEST_QUALITY * float(quality.max()))
    chosen = [int(good[np.argmax(quality[good])])]
    nearest = vectors[good] @ vectors[chosen[0]]
    while len(chosen) < min(count, len(good)):
        nearest[np.isin(good, chosen)] = np.inf
        pick = int(np.argmin(nearest))
        chosen.append(int(good[pick]))
        nearest = np.maximum(nearest, vectors[good] @ vectors[good[pick]])
    return chosen


class Review:
    def __init__(
        self,
        recorder: SightingRecorder,
        gallery: Gallery,
        database: OneThread,
        gallery_changed: Callable[[], Awaitable[None]],
    ) -> None:
        self._recorder = recorder
        self._gallery_changed = gallery_changed  # the counts /health reads follow every sample and negative added
        self._store = recorder.store
        self._gallery = gallery
        self._database = database
        assert recorder.thread is not None
        self._thread = recorder.thread

    # The feed

    async def sightings(self, query: SightingQuery) -> SightingPage:
        return await self._thread.run(self._store.list, query)

    async def sighting(self, sighting_id: int) -> SightingRecord:
        record = await self._thread.run(self._store.get, sighting_id)
        if record is None:
            raise NotFound(f"There is no sighting {sighting_id} (it may have been deleted or purged).")
        return record

    async def crop(self, sighting_id: int) -> bytes:
        crop = await self._thread.run(self._store.crop, sighting_id)
        if crop is None:
            raise NotFound(f"There is no sighting {sighting_id} (it may have been deleted or purged).")
        return crop

    async def summary(self) -> SightingSummary:
        return await self._thread.run(self._store.summary)

    async def clusters(self, low_quality_limit: int = 50) -> ClusterList:
        def read() -> ClusterList:
            return ClusterList(self._store.clusters(), self._store.low_quality(low_quality_limit))

        return await self._thread.run(read)

    async def cluster(self, cluster_id: int) -> list[SightingRecord]:
        members = await self._thread.run(self._store.cluster_members, cluster_id)
        if not members:
            raise NotFound(f"There is no unknown-face cluster {cluster_id}.")
        return members

    # Actions

    def _gather(
        self, cluster_id: int | None, sighting_ids: list[int] | None, samples: int, identity_id: int | None
    ) -> Chosen:
        """On the sightings thread: the sightings meant, checked, and the ones to keep as samples.

        Sightings already labelled as ``identity_id`` are not taken again (a client that retries a label
        whose answer it lost does not double the person's samples).
        """
        if (cluster_id is None) == (not sighting_ids):
            raise InvalidRequest('Give either "cluster_id" or "sighting_ids".')
        if cluster_id is not None:
            records = self._store.cluster_members(cluster_id)
            if not records:
                raise NotFound(f"There is no unknown-face cluster {cluster_id}.")
        else:
            assert sighting_ids is not None
            if len(sighting_ids) > MAX_SIGHTINGS_PER_ACTION:
                raise InvalidRequest(f"At most {MAX_SIGHTINGS_PER_ACTION} sightings at once.")
            found = {record.id: record for record in self._store.records(sorted(set(sighting_ids)))}
            missing = sorted(set(sighting_ids) - set(found))
            if missing:
                raise NotFound(f"There is no sighting {', '.join(map(str, missing[:10]))}.", missing=missing[:10])
            records = [found[i] for i in sorted(found)]
        ids, vectors = self._store.vectors([r.id for r in records], self._recorder.model_id, self._recorder.dim)
        by_id = {record.id: record for record in records}
        keep = [
            k
            for k, i in enumerate(ids)
            if not (by_id[int(i)].labelled_at is not None and by_id[int(i)].identity_id == identity_id)
        ]
        ids, vectors = ids[keep], vectors[keep]
        usable = [by_id[int(i)] for i in ids]
        quality = np.array([record.quality for record in usable], np.float64)
        chosen = choose_samples(quality, vectors, samples)
        return Chosen(records, [(usable[i], vectors[i]) for i in chosen])

    async def label(
        self, name: str, *, cluster_id: int | None = None, sighting_ids: list[int] | None = None
    ) -> LabelResult:
        """These sightings are ``name`` (a new person or a known one)."""
        return await self._assign(normalize_name(name), PERSON, cluster_id, sighting_ids)

    async def ignore(self, *, cluster_id: int | None = None, sighting_ids: list[int] | None = None) -> LabelResult:
        """These faces are a poster, a photo, a TV: recognised from now on as ignored, never as someone."""
        first = cluster_id if cluster_id is not None else min(sighting_ids or [0])
        return await self._assign(f"Ignored face {first}", IGNORED, cluster_id, sighting_ids)

    async def _assign(
        self, name: str, kind: str, cluster_id: int | None, sighting_ids: list[int] | None
    ) -> LabelResult:
        gallery = self._gallery
        existing = await self._database.run(gallery.store.identity, name)
        room = LABEL_SAMPLES
        if existing is not None:
            room = min(room, gallery.limits.max_samples_per_person - existing.face_count)
        chosen = await self._thread.run(
            self._gather, cluster_id, sighting_ids, max(room, 1), existing.id if existing else None
        )
        added: list[AddedFace] = []
        for record, vector in chosen.samples:
            crop = await self._thread.run(self._store.crop, record.id)
            if crop is None:
                continue  # purged meanwhile
            face = NewFace(
                model_id=self._recorder.model_id,
                embedding=vector,
                crop_jpeg=crop,
                landmarks=record.landmarks,
                bbox=record.bbox,
                detection_score=record.detection_score,
                source=record.source,
                seen_at=record.last_seen,
            )
            added.append(await self._database.run(gallery.add, name, face, kind))
        identity = added[0].identity if added else existing
        if identity is None:
            raise NotFound("None of these sightings has a stored face left to learn from.")
        identity = await self._database.run(gallery.identity_by_id, identity.id)
        outcome = "ignored" if kind == IGNORED else "named"
        ids = [record.id for record in chosen.records]

        def mark() -> None:
            self._store.assign(ids, outcome, identity.id, identity.name, labelled_at=time.time())
            self._recorder.clusters.remove(ids)

        await self._thread.run(mark)
        await self._gallery_changed()
        _LOGGER.info("Labelled %d sightings as %s (%s): %d new samples", len(ids), identity.name, kind, len(added))
        return LabelResult(identity, any(a.created_identity for a in added), [a.face_id for a in added], ids)

    async def reject(self, sighting_id: int, correct_name: str | None = None) -> RejectResult:
        """Not this person: the sighting's face becomes a negative of the identity it was given."""
        record = await self.sighting(sighting_id)
        if record.identity_id is None or record.outcome == "unknown":
            raise NotNamed(f"Sighting {sighting_id} names nobody: there is no name to reject.")
        clean_name = normalize_name(correct_name) if correct_name is not None else None
        ids, vectors = await self._thread.run(
            self._store.vectors, [sighting_id], self._recorder.model_id, self._recorder.dim
        )
        if len(ids) == 0:
            raise InvalidRequest(f"Sighting {sighting_id} was made by another model; it cannot be rejected now.")
        crop = await self._thread.run(self._store.crop, sighting_id)
        negative = await self._database.run(
            self._gallery.add_negative,
            record.identity_id,
            NewNegative(
                model_id=self._recorder.model_id,
                embedding=vectors[0],
                crop_jpeg=crop,
                source=record.source,
                seen_at=record.last_seen,
                sighting_id=sighting_id,
            ),
        )
        rejected = await self._database.run(self._gallery.identity_by_id, record.identity_id)
        await self._gallery_changed()
        _LOGGER.info("Sighting %d is not %s: kept as a negative sample", sighting_id, rejected.name)

        def unname() -> int | None:
            self._store.reject(sighting_id, record.identity_id or 0)
            if clean_name is not None or record.quality < GOOD_QUALITY:
                return None  # relabelled at once, or too poor a view to start a cluster
            change = self._recorder.clusters.add(sighting_id, vectors[0])
            self._store.set_cluster(sighting_id, change.cluster_id, change.merged)
            return change.cluster_id

        cluster_id = await self._thread.run(unname)
        relabelled = None
        if clean_name is not None:
            relabelled = await self.label(clean_name, sighting_ids=[sighting_id])
        return RejectResult(negative, rejected, relabelled, cluster_id)

    async def delete_sighting(self, sighting_id: int) -> None:
        def delete() -> int:
            self._recorder.clusters.remove([sighting_id])
            deleted = self._store.delete([sighting_id])
            self._recorder.refresh_counts()
            return deleted

        if not await self._thread.run(delete):
            raise NotFound(f"There is no sighting {sighting_id}.")

    async def dismiss_cluster(self, cluster_id: int) -> list[int]:
        def delete() -> list[int]:
            deleted = self._store.delete_cluster(cluster_id)
            self._recorder.clusters.remove(deleted)
            self._recorder.refresh_counts()
            return deleted

        deleted = await self._thread.run(delete)
        if not deleted:
            raise NotFound(f"There is no unknown-face cluster {cluster_id}.")
        return deleted

    async def forget_identity(self, identity_id: int) -> int:
        """A forgotten person's sightings go with them."""

        def delete() -> int:
            deleted = self._store.delete_identity(identity_id)
            self._recorder.refresh_counts()
            return len(deleted)

        return await self._thread.run(delete)

    async def rename_identity(self, identity_id: int, name: str) -> None:
        await self._thread.run(self._store.rename_identity, identity_id, name)
