"""The gallery: SQLite records and the search index, kept in step.

Every change is committed to SQLite first and applied to the index after,
so the index never holds a face the database does not.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hailo_face_server.errors import InvalidImport, InvalidRequest, NameTaken, NotFound
from hailo_face_server.gallery.index import EmbeddingIndex
from hailo_face_server.gallery.maintenance import integrity_problems
from hailo_face_server.gallery.names import normalize_name
from hailo_face_server.gallery.store import (
    FaceRecord,
    GalleryStore,
    IdentityRecord,
    ImportSummary,
    NewFace,
    PendingCrop,
    SchemaTooNew,
)
from hailo_face_server.matching import Match, SimilarityCalibration, assign_identities

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class IdentityDetails:
    record: IdentityRecord
    faces: list[FaceRecord]


@dataclass(frozen=True)
class AddedFace:
    identity: IdentityRecord
    face_id: int
    created_identity: bool


@dataclass(frozen=True)
class GalleryStats:
    identities: int
    faces: int  # samples with an embedding of the running model
    faces_pending: int  # samples without one (taught with another model)


class Gallery:
    def __init__(self, store: GalleryStore, model_id: str, dim: int, calibration: SimilarityCalibration) -> None:
        self.store = store
        self.model_id = model_id
        self.dim = dim
        self.calibration = calibration
        self.index = EmbeddingIndex(dim)
        self.server_id = store.server_id()
        self.reload_index()

    @classmethod
    def open(cls, path: Path, model_id: str, dim: int, calibration: SimilarityCalibration) -> Gallery:
        return cls(GalleryStore(path), model_id, dim, calibration)

    def close(self) -> None:
        self.store.close()

    def reload_index(self) -> None:
        stored = self.store.embeddings(self.model_id, self.dim)
        names = {record.id: record.name for record in self.store.identities()}
        self.index.load(stored.vectors, stored.face_ids, stored.identity_ids, names)

    def _identity(self, name: str) -> IdentityRecord:
        record = self.store.identity(name) if isinstance(name, str) else None
        if record is None:
            raise NotFound(f'Nobody called "{name}" is in the gallery.')
        return record

    def add(self, name: str, face: NewFace) -> AddedFace:
        clean_name = normalize_name(name)
        if face.model_id != self.model_id or np.size(face.embedding) != self.dim:
            raise InvalidRequest("The embedding does not come from the model this gallery uses.")
        identity, face_id, created = self.store.add_face(clean_name, face)
        self.index.add(face_id, identity.id, identity.name, face.embedding)
        return AddedFace(identity, face_id, created)

    def identities(self) -> list[IdentityDetails]:
        faces_by_identity: dict[int, list[FaceRecord]] = {}
        for face in self.store.faces():
            faces_by_identity.setdefault(face.identity_id, []).append(face)
        return [IdentityDetails(r, faces_by_identity.get(r.id, [])) for r in self.store.identities()]

    def delete_identity(self, name: str) -> IdentityRecord:
        record = self._identity(name)
        face_ids = self.store.delete_identity(record.id)
        self.index.remove_faces(face_ids)
        return record

    def delete_face(self, name: str, face_id: int) -> IdentityRecord:
        record = self._identity(name)
        if self.store.face(record.id, face_id) is None:
            raise NotFound(f'"{record.name}" has no face sample {face_id}.')
        self.store.delete_face(record.id, face_id)
        self.index.remove_faces([face_id])
        return self._identity(record.name)

    def rename(self, name: str, new_name: str) -> IdentityRecord:
        record = self._identity(name)
        clean_name = normalize_name(new_name)
        other = self.store.identity(clean_name)
        if other is not None and other.id != record.id:
            raise NameTaken(f'The name "{other.name}" is already taken.')
        self.store.rename(record.id, clean_name)
        self.index.rename(record.id, clean_name)
        return self._identity(clean_name)

    def crop(self, name: str, face_id: int) -> bytes:
        record = self._identity(name)
        if self.store.face(record.id, face_id) is None:
            raise NotFound(f'"{record.name}" has no face sample {face_id}.')
        crop = self.store.crop(face_id)
        if crop is None:
            raise NotFound(f"Face sample {face_id} has no stored image.")
        return crop

    def export_to(self, target: Path) -> None:
        self.store.export_to(target)

    def import_from(self, source: Path, *, replace: bool) -> ImportSummary:
        """Merge or swap in another gallery file (an export); bad files raise InvalidImport."""
        with source.open("rb") as file:
            if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise InvalidImport("The file is not a gallery export (an SQLite database file).")
        problems = integrity_problems(source)
        if problems:
            raise InvalidImport(f"The file is not a readable gallery: {problems[0]}")
        try:
            GalleryStore(source).close()  # checks it and brings it to this schema version
            summary = self.store.import_from(source, replace=replace)
        except SchemaTooNew as err:
            raise InvalidImport(str(err)) from err
        except sqlite3.DatabaseError as err:
            raise InvalidImport(f"The file is not a Hailo Face gallery export: {err}") from err
        self.reload_index()
        return summary

    def match(self, embeddings: np.ndarray, threshold: float) -> list[Match]:
        identity_ids, similarities = self.index.best_per_identity(embeddings)
        return assign_identities(similarities, identity_ids, self.index.names, self.calibration, threshold)

    def stats(self) -> GalleryStats:
        usable = self.store.embedding_count(self.model_id)
        return GalleryStats(
            identities=len(self.store.identities()),
            faces=usable,
            faces_pending=self.store.face_count() - usable,
        )

    def pending_crops(self) -> list[PendingCrop]:
        """Samples the running model has no embedding of, with their stored crops."""
        return self.store.crops_without_embedding(self.model_id)

    def add_embedding(self, pending: PendingCrop, embedding: np.ndarray) -> None:
        """Store the running model's embedding of an existing sample and make it searchable."""
        if np.size(embedding) != self.dim:
            raise InvalidRequest("The embedding does not come from the model this gallery uses.")
        if not self.store.add_embedding(pending.face_id, self.model_id, embedding):
            return  # the sample was deleted meanwhile
        name = self.index.names.get(pending.identity_id)
        if name is None:
            name = next(r.name for r in self.store.identities() if r.id == pending.identity_id)
        self.index.add(pending.face_id, pending.identity_id, name, embedding)
