"""The people the server knows: list, forget, rename, samples, negatives, export and import.

Every gallery call runs on the gallery's own thread.  Forgetting or renaming a
person also reaches their sightings, so nothing about a forgotten person stays.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path

from hailo_face_server.engine import OneThread
from hailo_face_server.errors import NotFound
from hailo_face_server.gallery import Gallery
from hailo_face_server.gallery.export import copy_database
from hailo_face_server.gallery.gallery import GalleryStats, IdentityDetails
from hailo_face_server.gallery.store import PERSON, IdentityRecord, ImportSummary, NegativeRecord
from hailo_face_server.metrics import Metrics
from hailo_face_server.sightings.review import Review

_LOGGER = logging.getLogger(__name__)


class People:
    def __init__(
        self, gallery: Gallery, database: OneThread, db_file: Path, metrics: Metrics, review: Review | None
    ) -> None:
        self.gallery = gallery
        self._database = database
        self._db_file = db_file
        self._metrics = metrics
        self._review = review
        # Counts from the database, refreshed after every change: /health reads these
        # (and the in-memory index) and never waits in the database thread's queue.
        self._counts = GalleryStats(identities=0, faces=0, faces_pending=0)

    async def identities(self, kind: str | None = PERSON) -> list[IdentityDetails]:
        """People (or, with ``kind`` None, every identity, ignored faces too), with their samples."""
        found = await self._database.run(self.gallery.identities)
        return [details for details in found if kind is None or details.record.kind == kind]

    def avatars(self, identities: list[IdentityDetails]) -> dict[int, int]:
        """Each identity's avatar: its most typical searchable sample, else its first sample."""
        central = self.gallery.index.central_faces()
        return {
            d.record.id: central.get(d.record.id, d.faces[0].id)
            for d in identities
            if d.record.id in central or d.faces
        }

    async def identity(self, name: str) -> IdentityRecord:
        return await self._database.run(self.gallery.identity, name)

    async def identity_id(self, name: str) -> int:
        """The id of the identity of this name; -1 (no identity's) when there is none."""
        try:
            return (await self.identity(name)).id
        except NotFound:
            return -1

    async def delete_identity(self, name: str) -> IdentityRecord:
        record = await self._database.run(self.gallery.delete_identity, name)
        if self._review is not None:
            await self._review.forget_identity(record.id)
        await self.refresh_counts()
        _LOGGER.info("Forgot %s and %d face samples", record.name, record.face_count)
        return record

    async def delete_face(self, name: str, face_id: int) -> IdentityRecord:
        record = await self._database.run(self.gallery.delete_face, name, face_id)
        await self.refresh_counts()
        _LOGGER.info("Removed face %d of %s", face_id, record.name)
        return record

    async def rename(self, name: str, new_name: str) -> IdentityRecord:
        record = await self._database.run(self.gallery.rename, name, new_name)
        if self._review is not None:
            await self._review.rename_identity(record.id, record.name)
        _LOGGER.info("Renamed %s to %s", name, record.name)
        return record

    async def face_image(self, name: str, face_id: int) -> bytes:
        return await self._database.run(self.gallery.crop, name, face_id)

    async def negatives(self, name: str) -> list[NegativeRecord]:
        return await self._database.run(self.gallery.negative_records, name)

    async def delete_negative(self, name: str, negative_id: int) -> IdentityRecord:
        record = await self._database.run(self.gallery.delete_negative, name, negative_id)
        _LOGGER.info("Removed negative sample %d of %s", negative_id, record.name)
        return record

    async def negative_image(self, name: str, negative_id: int) -> bytes:
        return await self._database.run(self.gallery.negative_crop, name, negative_id)

    async def export(self, target: Path) -> None:
        """A copy of the gallery file, made on its own connection (not in the database thread's queue)."""
        await asyncio.get_running_loop().run_in_executor(None, copy_database, self._db_file, target)
        _LOGGER.info("Exported the gallery")

    async def import_file(self, source: Path, *, replace: bool) -> ImportSummary:
        # Reading and checking the whole file happens off the database thread (it touches only
        # the file), so /health, list and teaching keep answering; the write is one transaction.
        gallery = self.gallery
        validated = await asyncio.get_running_loop().run_in_executor(None, gallery.validate_import, source)
        summary = await self._database.run(functools.partial(gallery.import_validated, validated, replace=replace))
        _LOGGER.info(
            "Imported a gallery (%s): %d new people, %d face samples, %d embeddings of unknown models dropped "
            "(the file checked in %.1f s)",
            "replacing the old one" if replace else "merged",
            summary.identities_created,
            summary.faces,
            summary.embeddings_dropped,
            validated.seconds,
        )
        await self.refresh_counts()
        return summary

    async def refresh_counts(self) -> None:
        self._counts = await self._database.run(self.gallery.stats)

    def stats(self) -> GalleryStats:
        """The gallery's counts without a database query: searchable samples are the index's."""
        searchable = self.gallery.index.sample_count
        stats = GalleryStats(
            identities=self._counts.identities,
            faces=searchable,
            faces_pending=max(0, self._counts.faces + self._counts.faces_pending - searchable),
        )
        self._metrics.identities.set(stats.identities)
        self._metrics.faces.set(stats.faces)
        self._metrics.faces_pending.set(stats.faces_pending)
        return stats
