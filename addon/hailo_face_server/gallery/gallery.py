"""The gallery: SQLite records and the search index, kept in step.

Every change is committed to SQLite first and applied to the index after,
so the index never holds a face the database does not.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hailo_face_server.errors import InvalidRequest, NameTaken, NotFound
from hailo_face_server.gallery.importing import (
    EMBEDDING_OVERHEAD_BYTES,
    FACE_OVERHEAD_BYTES,
    KNOWN_MODELS,
    ValidatedImport,
    validate_import,
)
from hailo_face_server.gallery.index import EmbeddingIndex, NegativeIndex
from hailo_face_server.gallery.limits import GalleryLimits
from hailo_face_server.gallery.names import normalize_name
from hailo_face_server.gallery.store import (
    IGNORED,
    PERSON,
    FaceRecord,
    GalleryStore,
    IdentityRecord,
    ImportSummary,
    NegativeRecord,
    NewFace,
    NewNegative,
    PendingCrop,
)
from hailo_face_server.matching import Match, SimilarityCalibration, assign_identities

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentityDetails:
    record: IdentityRecord
    faces: list[FaceRecord]
    negatives: list[NegativeRecord] = dataclasses.field(default_factory=list)  # "not this person"


@dataclass(frozen=True)
class AddedFace:
    identity: IdentityRecord
    face_id: int
    created_identity: bool


@dataclass(frozen=True)
class GalleryStats:
    identities: int
    faces: int  # samples the index searches: with a usable embedding of the running model
    faces_pending: int  # the others (taught with another model, or a stored vector not usable)
    skipped: int = 0  # of those: stored vectors of the running model left out as unusable


def unit_vector(embedding: np.ndarray, dim: int) -> np.ndarray | None:
    """``embedding`` as ``dim`` float32 values of unit length; None when not finite or zero."""
    vector = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if vector.size != dim or not np.isfinite(vector).all():
        return None
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm < 1e-6:
        return None
    return (vector / norm).astype(np.float32)


class Gallery:
    def __init__(
        self,
        store: GalleryStore,
        model_id: str,
        dim: int,
        calibration: SimilarityCalibration,
        limits: GalleryLimits | None = None,
    ) -> None:
        self.store = store
        self.model_id = model_id
        self.dim = dim
        self.calibration = calibration
        self.limits = limits or GalleryLimits()
        self.index = EmbeddingIndex(dim)
        self.negatives = NegativeIndex(dim)
        self.ignored: set[int] = set()
        self.server_id = store.server_id()
        self._skipped: set[int] = set()
        self.reload_index()

    @classmethod
    def open(
        cls,
        path: Path,
        model_id: str,
        dim: int,
        calibration: SimilarityCalibration,
        limits: GalleryLimits | None = None,
    ) -> Gallery:
        return cls(GalleryStore(path), model_id, dim, calibration, limits)

    def close(self) -> None:
        self.store.close()

    @property
    def known_models(self) -> Mapping[str, int]:
        """The models whose embeddings an import keeps (the running one included), with their dimensions."""
        return {**KNOWN_MODELS, self.model_id: self.dim}

    @property
    def skipped_embeddings(self) -> int:
        """Stored vectors of the running model left out of the index as unusable (they are embedded again)."""
        return len(self._skipped)

    def reload_index(self) -> None:
        stored = self.store.embeddings(self.model_id, self.dim)
        self._skipped = set(stored.skipped_face_ids)
        if self._skipped:
            _LOGGER.warning(
                "Left out %d stored %s embeddings that cannot be used (wrong type, length or dimension, "
                "non-finite or zero); their samples are embedded again from their crops",
                len(self._skipped),
                self.model_id,
            )
        self.index.load(stored.vectors, stored.face_ids, stored.identity_ids, self.store.identity_names())
        self.ignored = self.store.ignored_identity_ids()
        self.negatives.load(*self.store.negative_vectors(self.model_id, self.dim))

    def _identity(self, name: str) -> IdentityRecord:
        record = self.store.identity(name) if isinstance(name, str) else None
        if record is None:
            shown = name if len(name) <= 80 else name[:80] + "…"
            raise NotFound(f'Nobody called "{shown}" is in the gallery.')
        return record

    def add(self, name: str, face: NewFace, kind: str = PERSON) -> AddedFace:
        """Store a sample; TooManySamples or GalleryFull when over the limits."""
        clean_name = normalize_name(name)
        if face.model_id != self.model_id or np.size(face.embedding) != self.dim:
            raise InvalidRequest("The embedding does not come from the model this gallery uses.")
        vector = unit_vector(face.embedding, self.dim)
        if vector is None:
            raise InvalidRequest("The embedding has values that are not finite, or is zero.")
        existing = self.store.identity(clean_name)
        if existing is not None:
            if existing.kind != kind:
                what = "an ignored face" if existing.kind == IGNORED else "a person"
                raise NameTaken(f'"{existing.name}" is {what}; choose another name.')
            self.limits.check_samples(existing.name, existing.face_count + 1)
        added_bytes = len(face.crop_jpeg) + FACE_OVERHEAD_BYTES + 4 * self.dim + EMBEDDING_OVERHEAD_BYTES
        self.limits.check_size(self.store.size_bytes() + added_bytes)
        identity, face_id, created = self.store.add_face(clean_name, dataclasses.replace(face, embedding=vector), kind)
        if kind == IGNORED:
            self.ignored.add(identity.id)
        self.index.add(face_id, identity.id, identity.name, vector)
        return AddedFace(identity, face_id, created)

    def identities(self) -> list[IdentityDetails]:
        faces_by_identity: dict[int, list[FaceRecord]] = {}
        for stored in self.store.faces():
            face = stored
            if face.id in self._skipped:  # its vector of the running model is not usable
                face = dataclasses.replace(face, models=tuple(m for m in face.models if m != self.model_id))
            faces_by_identity.setdefault(face.identity_id, []).append(face)
        negatives_by_identity: dict[int, list[NegativeRecord]] = {}
        for negative in self.store.negatives():
            negatives_by_identity.setdefault(negative.identity_id, []).append(negative)
        return [
            IdentityDetails(r, faces_by_identity.get(r.id, []), negatives_by_identity.get(r.id, []))
            for r in self.store.identities()
        ]

    def identity(self, name: str) -> IdentityRecord:
        """The identity of this name; NotFound otherwise."""
        return self._identity(name)

    def identity_by_id(self, identity_id: int) -> IdentityRecord:
        record = self.store.identity_by_id(identity_id)
        if record is None:
            raise NotFound(f"No identity {identity_id} is in the gallery.")
        return record

    def add_negative(self, identity_id: int, negative: NewNegative) -> NegativeRecord:
        """Remember that a face is not this identity; matching refuses it for faces nearer it than its samples."""
        if negative.model_id != self.model_id:
            raise InvalidRequest("The embedding does not come from the model this gallery uses.")
        vector = unit_vector(negative.embedding, self.dim)
        if vector is None:
            raise InvalidRequest("The embedding has values that are not finite, or is zero.")
        self.identity_by_id(identity_id)
        negative_id = self.store.add_negative(identity_id, dataclasses.replace(negative, embedding=vector))
        self.negatives.add(negative_id, identity_id, vector)
        return next(n for n in self.store.negatives(identity_id) if n.id == negative_id)

    def negative_records(self, name: str) -> list[NegativeRecord]:
        return self.store.negatives(self._identity(name).id)

    def delete_negative(self, name: str, negative_id: int) -> IdentityRecord:
        record = self._identity(name)
        if not self.store.delete_negative(record.id, negative_id):
            raise NotFound(f'"{record.name}" has no negative sample {negative_id}.')
        self.negatives.remove([negative_id])
        return record

    def negative_crop(self, name: str, negative_id: int) -> bytes:
        record = self._identity(name)
        if not any(n.id == negative_id for n in self.store.negatives(record.id)):
            raise NotFound(f'"{record.name}" has no negative sample {negative_id}.')
        crop = self.store.negative_crop(negative_id)
        if crop is None:
            raise NotFound(f"Negative sample {negative_id} has no stored image.")
        return crop

    def delete_identity(self, name: str) -> IdentityRecord:
        record = self._identity(name)
        face_ids = self.store.delete_identity(record.id)
        self.negatives.remove(identity_id=record.id)
        self.ignored.discard(record.id)
        self.index.remove_faces(face_ids)
        self._skipped.difference_update(face_ids)
        return record

    def delete_face(self, name: str, face_id: int) -> IdentityRecord:
        record = self._identity(name)
        if self.store.face(record.id, face_id) is None:
            raise NotFound(f'"{record.name}" has no face sample {face_id}.')
        self.store.delete_face(record.id, face_id)
        self.index.remove_faces([face_id])
        self._skipped.discard(face_id)
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
        """Merge or swap in another gallery file (an export): check it all, then write it; else InvalidImport."""
        return self.import_validated(self.validate_import(source), replace=replace)

    def validate_import(self, source: Path) -> ValidatedImport:
        """Read and check a gallery file with this gallery's models and limits.

        Touches only the file (never this gallery's database): any thread may call it.
        """
        return validate_import(
            source,
            known_models=self.known_models,
            max_identities=self.limits.max_import_identities,
            max_faces=self.limits.max_import_faces,
            time_limit=self.limits.import_time_limit,
        )

    def import_validated(self, content: ValidatedImport, *, replace: bool) -> ImportSummary:
        """Write a checked gallery file in one transaction; TooManySamples or GalleryFull when over the limits."""
        existing = {} if replace else self.store.sample_counts()
        for identity in content.identities:
            name, before = existing.get(identity.key, (identity.name, 0))
            self.limits.check_samples(name, before + len(identity.faces), importing=True)
        base = 0 if replace else self.store.size_bytes()
        self.limits.check_size(base + content.stored_bytes)
        summary = self.store.import_validated(content, replace=replace)
        self.reload_index()
        return summary

    def match(self, embeddings: np.ndarray, threshold: float) -> list[Match]:
        identity_ids, similarities = self.index.best_per_identity(embeddings)
        refused = self.negatives.refused(embeddings, similarities)
        return assign_identities(
            similarities,
            identity_ids,
            self.index.names,
            self.calibration,
            threshold,
            refused=refused,
            ignored=self.ignored,
        )

    def stats(self) -> GalleryStats:
        """Counts from SQL and the index: ``faces`` is what the index searches."""
        searched = self.index.sample_count
        return GalleryStats(
            identities=self.store.identity_count(),
            faces=searched,
            faces_pending=self.store.face_count() - searched,
            skipped=len(self._skipped),
        )

    def pending_crops(self) -> list[PendingCrop]:
        """Samples without a usable embedding of the running model, with their stored crops."""
        return self.store.crops_without_embedding(self.model_id, also=sorted(self._skipped))

    def add_embedding(self, pending: PendingCrop, embedding: np.ndarray) -> None:
        """Store the running model's embedding of an existing sample and make it searchable."""
        if np.size(embedding) != self.dim:
            raise InvalidRequest("The embedding does not come from the model this gallery uses.")
        vector = unit_vector(embedding, self.dim)
        if vector is None:  # never stored; the sample stays pending, and re-embedding goes on with the others
            _LOGGER.warning("The %s embedding of face %d is not finite or is zero", self.model_id, pending.face_id)
            return
        if not self.store.add_embedding(pending.face_id, self.model_id, vector):
            return  # the sample was deleted meanwhile
        self._skipped.discard(pending.face_id)
        name = self.index.names.get(pending.identity_id)
        if name is None:
            name = self.store.identity_names().get(pending.identity_id, "")
        self.index.add(pending.face_id, pending.identity_id, name, vector)
