"""Keeping what the cameras saw: each face /v1/recognize returned for a source becomes a sighting.

A face seen again by the same source within ``merge_window_s`` (a person
standing at the door, scanned every few seconds) with the same outcome is
merged into the sighting it repeats, keeping the better view. Unknown faces of
good quality join the unknown-face clusters as they arrive.

The store and the clusters belong to the sightings thread: every method that
touches them runs there (``thread.run``), so they need no lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from hailo_face_server.backends.base import BackendInfo
from hailo_face_server.config import SightingsConfig
from hailo_face_server.engine import OneThread
from hailo_face_server.faces import Detections
from hailo_face_server.frames import Frame
from hailo_face_server.imaging import face_crop_jpeg
from hailo_face_server.matching import Match
from hailo_face_server.sightings.clusters import JOIN_CONFIDENCE, UnknownClusters
from hailo_face_server.sightings.quality import FaceQuality, measure_quality
from hailo_face_server.sightings.store import (
    ClusterMove,
    NewSighting,
    RecentSightings,
    RetentionPolicy,
    SightingStore,
)
from hailo_face_server.status import SightingsStatus

_LOGGER = logging.getLogger(__name__)

DAY_S = 86_400.0
PURGE_INTERVAL_S = 3_600.0
# Two views are the same face when they are at least as similar as a named match needs at this
# confidence: stricter than naming, so that two people at the door are never merged.
MERGE_CONFIDENCE = 0.9


@dataclass(frozen=True)
class PreparedFace:
    """What a face needs before it is stored: its quality and, unless it will likely be merged away, its crop."""

    quality: FaceQuality
    # None: made when the face is stored, if it is (a repeat no better than its sighting is not).
    crop_jpeg: bytes | None


@dataclass(frozen=True)
class SeenImage:
    """One recognised image of a source, with what was found in it."""

    source: str
    seen_at: float
    frame: Frame
    detections: Detections
    embeddings: np.ndarray
    matches: list[Match]
    prepared: Future[list[PreparedFace]] | None = None


class SightingRecorder:
    def __init__(
        self,
        store: SightingStore,
        config: SightingsConfig,
        info: BackendInfo,
    ) -> None:
        self.store = store
        self.config = config
        self.model_id = info.model_id
        self.dim = info.embedding_dim
        self.calibration = info.calibration
        self.merge_similarity = info.calibration.similarity_at(MERGE_CONFIDENCE)
        self.clusters = UnknownClusters(info.embedding_dim, info.calibration.similarity_at(JOIN_CONFIDENCE))
        self.thread: OneThread | None = None
        self._purging: asyncio.Task[None] | None = None
        self._stored = 0
        self._bytes = 0
        self._load_clusters()

    @classmethod
    def open(cls, config: SightingsConfig, info: BackendInfo) -> SightingRecorder:
        """Open the store (on the sightings thread) and rebuild the clusters from it."""
        return cls(SightingStore(config.db_file), config, info)

    def _load_clusters(self) -> None:
        ids, cluster_ids, vectors = self.store.clustered(self.model_id)
        self.clusters.load(ids, cluster_ids, vectors)
        self.refresh_counts()

    def close(self) -> None:
        self.store.close()

    @property
    def policy(self) -> RetentionPolicy:
        config = self.config
        return RetentionPolicy(
            keep_unknown_s=config.keep_unknown_days * DAY_S,
            keep_named_s=config.keep_named_days * DAY_S,
            max_sightings=config.max_sightings,
            max_bytes=config.max_bytes,
        )

    def status(self) -> SightingsStatus:
        """For /health: read without the sightings thread (plain ints, updated after each write)."""
        return SightingsStatus(
            enabled=True, stored=self._stored, unknown_clusters=len(self.clusters), bytes=self._bytes
        )

    def refresh_counts(self) -> None:
        """Re-read what /health reports; on the sightings thread, after anything that adds or deletes sightings."""
        self._stored = self.store.count()
        self._bytes = self.store.size_bytes()

    # Recording

    def prepare(self, source: str, frame: Frame, detections: Detections) -> Future[list[PreparedFace]]:
        """Start working out the faces' quality and crops on the sightings thread, from any thread.

        Called by the inference worker as soon as the faces are found: the crops and quality are made
        while the embedder runs (on another core), so that storing them later costs only the write.
        """
        assert self.thread is not None
        return self.thread.submit(self._prepare, source, time.time(), frame, detections)

    def _prepare(self, source: str, now: float, frame: Frame, detections: Detections) -> list[PreparedFace]:
        """Each face's quality, and its crop unless the face is likely a repeat that will not replace a stored view.

        A face no better than the best view the source stored within the merge window (a person
        standing at the door, scanned again) is most likely merged into that sighting, which keeps
        its own crop: its crop is then left to ``_store_faces``, which makes it only if the face is
        stored after all (a new face, or a better view of a worse sighting).
        """
        best_recent = None
        if self.config.merge_window_s > 0:
            best_recent = self.store.best_recent_quality(source, now - self.config.merge_window_s, self.model_id)
        prepared = []
        for i in range(len(detections)):
            quality = measure_quality(frame, detections.boxes[i], detections.landmarks[i], detections.scheme)
            likely_merged = best_recent is not None and quality.score <= best_recent
            prepared.append(
                PreparedFace(quality, None if likely_merged else face_crop_jpeg(frame, detections.boxes[i]))
            )
        return prepared

    def keep(self, seen: SeenImage) -> list[int]:
        """Store the faces of one recognised image; their sighting ids, in the same order.

        Called by the inference worker, which waits for the write on the sightings thread (merge or
        insert, one transaction): a hand-over between two threads, where an await from the event
        loop took two hops. ``seen.prepared`` (from ``prepare``, queued on the same thread before
        this) holds the quality and crops; without it they are made here.
        """
        assert self.thread is not None
        return self.thread.submit(self._store, seen).result()

    def _store(self, seen: SeenImage) -> list[int]:
        """One image's faces, merged or inserted in one transaction (the clusters follow the file)."""
        try:
            with self.store.batch():
                ids = self._store_faces(seen)
        except BaseException:
            try:
                self._load_clusters()  # rolled back: what the batch put in the clusters is gone from the file
            except Exception:
                _LOGGER.exception("Reloading the unknown-face clusters after a failed write failed")
            raise
        self.refresh_counts()
        if self._stored > self.config.max_sightings or self._bytes > self.config.max_bytes:
            self._purge(seen.seen_at)
        return ids

    def _store_faces(self, seen: SeenImage) -> list[int]:
        source, now, detections = seen.source, seen.seen_at, seen.detections
        if self.config.merge_window_s > 0:
            recent = self.store.recent(source, now - self.config.merge_window_s, self.model_id, self.dim)
        else:
            recent = RecentSightings.none(self.dim)  # nothing to merge into: every face is a sighting of its own
        taken = np.zeros(len(recent.ids), bool)  # one face of this image merges into a sighting at most
        vectors = np.asarray(seen.embeddings, np.float32).reshape(len(detections), self.dim)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        ids: list[int] = []
        # Queued on this thread before this call, so it has run: result() does not wait.
        if seen.prepared is not None:
            prepared = seen.prepared.result()
        else:
            prepared = self._prepare(source, now, seen.frame, detections)
        for i, match in enumerate(seen.matches):
            quality = prepared[i].quality
            repeat = self._repeat_of(recent, taken, vectors[i], match)
            if repeat is not None and quality.score <= float(recent.qualities[repeat]):
                taken[repeat] = True
                sighting_id = int(recent.ids[repeat])
                self.store.merge(sighting_id, now, None)  # seen again; the stored view is as good
                ids.append(sighting_id)
                continue
            sighting = NewSighting(
                source=source,
                seen_at=now,
                bbox=detections.boxes[i].astype(np.float64),
                landmarks=detections.landmarks[i].astype(np.float64),
                landmark_scheme=str(detections.scheme),
                crop_jpeg=prepared[i].crop_jpeg or face_crop_jpeg(seen.frame, detections.boxes[i]),
                model_id=self.model_id,
                embedding=vectors[i],
                detection_score=float(detections.scores[i]),
                face_size=quality.face_size,
                sharpness=quality.sharpness,
                frontalness=quality.frontalness,
                quality=quality.score,
                outcome=match.outcome,
                identity_id=match.identity_id,
                identity_name=match.name,
                confidence=float(match.confidence),
            )
            if repeat is None:
                sighting_id = self._add(sighting, quality)
            else:  # a better view of a face seen within the window
                taken[repeat] = True
                sighting_id = int(recent.ids[repeat])
                self.store.merge(sighting_id, now, sighting)
                if self.clusters.cluster_of(sighting_id) is None:
                    self._cluster(sighting_id, sighting, quality)  # a view good enough to cluster at last
            ids.append(sighting_id)
        return ids

    def _repeat_of(self, recent: RecentSightings, taken: np.ndarray, vector: np.ndarray, match: Match) -> int | None:
        """The recent sighting this face repeats: same outcome and identity, nearly the same face."""
        if len(recent.ids) == 0:
            return None
        similarity = recent.vectors @ vector
        same = (
            (np.asarray(recent.outcomes) == match.outcome)
            & (recent.identity_ids == (match.identity_id if match.identity_id is not None else -1))
            & (similarity >= self.merge_similarity)
            & ~taken
        )
        if not same.any():
            return None
        return int(np.argmax(np.where(same, similarity, -np.inf)))

    def _add(self, sighting: NewSighting, quality: FaceQuality) -> int:
        """Store a new sighting and, if it is a good unknown face, put it in its cluster: one transaction."""
        if sighting.outcome != "unknown" or not quality.good:
            return self.store.add(sighting)  # low-quality faces are listed apart and never start a cluster
        joined: list[int] = []

        def join(sighting_id: int) -> ClusterMove:
            change = self.clusters.add(sighting_id, np.asarray(sighting.embedding, np.float32))
            joined.append(sighting_id)
            return ClusterMove(change.cluster_id, change.merged)

        try:
            return self.store.add(sighting, join)
        except BaseException:
            self.clusters.remove(joined)  # the transaction rolled back: the clusters follow the file
            raise

    def _cluster(self, sighting_id: int, sighting: NewSighting, quality: FaceQuality) -> None:
        if sighting.outcome != "unknown" or not quality.good:
            return  # low-quality faces are listed apart and never start a cluster
        change = self.clusters.add(sighting_id, np.asarray(sighting.embedding, np.float32))
        self.store.set_cluster(sighting_id, change.cluster_id, change.merged)

    # Retention

    def _purge(self, now: float) -> list[int]:
        deleted = self.store.purge(self.policy, now)
        if deleted:
            self.clusters.remove(deleted)
            _LOGGER.info("Deleted %d sightings past their retention or over the limits", len(deleted))
        self.refresh_counts()
        return deleted

    async def purge(self) -> list[int]:
        assert self.thread is not None
        return await self.thread.run(self._purge, time.time())

    async def start_purging(self) -> None:
        """Purge now (at start) and every hour."""
        await self.purge()

        async def every_hour() -> None:
            while True:
                await asyncio.sleep(PURGE_INTERVAL_S)
                try:
                    await self.purge()
                except Exception:
                    _LOGGER.exception("Purging sightings failed; trying again in an hour")

        self._purging = asyncio.create_task(every_hour(), name="hailo-face-sightings-purge")

    async def stop_purging(self) -> None:
        if self._purging is not None:
            self._purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purging
