"""SQLite storage of identities, face samples and their embeddings.

One connection, used from one thread.  WAL journal, foreign keys on, full
synchronous commits (a taught face survives a power cut), every write in one
transaction, and numbered migrations recorded in ``PRAGMA user_version``.

A sample keeps its face crop, so it can be embedded again by another model;
embeddings live in their own table, one per sample and model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hailo_face_server import sqlite_file
from hailo_face_server.gallery.names import name_key

_LOGGER = logging.getLogger(__name__)

if TYPE_CHECKING:
    from hailo_face_server.gallery.importing import ValidatedImport

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE identities (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """,
        """
        CREATE TABLE faces (
            id INTEGER PRIMARY KEY,
            identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
            source_model TEXT NOT NULL,
            crop_jpeg BLOB NOT NULL,
            landmarks TEXT NOT NULL,
            bbox TEXT NOT NULL,
            detection_score REAL NOT NULL,
            created_at REAL NOT NULL
        )
        """,
        "CREATE INDEX faces_by_identity ON faces(identity_id)",
        """
        CREATE TABLE embeddings (
            face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            dim INTEGER NOT NULL CHECK (dim > 0),
            vector BLOB NOT NULL CHECK (length(vector) = 4 * dim),
            created_at REAL NOT NULL,
            PRIMARY KEY (face_id, model_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX embeddings_by_model ON embeddings(model_id)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT INTO meta (key, value) VALUES ('server_id', lower(hex(randomblob(16))))",
    ),
    (
        # Ignored identities (a poster, a TV face): matched like people, reported as ignored.
        "ALTER TABLE identities ADD COLUMN kind TEXT NOT NULL DEFAULT 'person'",
        # Where a sample taken from a sighting was seen.
        "ALTER TABLE faces ADD COLUMN source TEXT",
        "ALTER TABLE faces ADD COLUMN seen_at REAL",
        # "Not this person": faces the owner said are not the identity.
        """
        CREATE TABLE negatives (
            id INTEGER PRIMARY KEY,
            identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            dim INTEGER NOT NULL CHECK (dim > 0),
            vector BLOB NOT NULL CHECK (length(vector) = 4 * dim),
            crop_jpeg BLOB,
            source TEXT,
            seen_at REAL,
            sighting_id INTEGER,
            created_at REAL NOT NULL
        )
        """,
        "CREATE INDEX negatives_by_identity ON negatives(identity_id)",
    ),
)
PERSON = "person"
IGNORED = "ignored"
KINDS = (PERSON, IGNORED)
SCHEMA_VERSION = len(MIGRATIONS)
LAST_IDENTITY_ID = "last_identity_id"


def next_identity_id(db: sqlite3.Connection) -> int:
    """An id no identity ever had, in the caller's transaction.

    The table has no AUTOINCREMENT, and SQLite would give a forgotten person's
    id (the highest) to the next one taught: clients such as Home Assistant
    would take the newcomer for the forgotten person renamed. The highest id
    ever given is kept in ``meta``.
    """
    row = db.execute("SELECT value FROM meta WHERE key = ?", (LAST_IDENTITY_ID,)).fetchone()
    kept = int(row[0]) if row is not None and str(row[0]).isdigit() else 0
    highest = int(db.execute("SELECT coalesce(max(id), 0) FROM identities").fetchone()[0])
    identity_id = max(kept, highest) + 1
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (LAST_IDENTITY_ID, str(identity_id)),
    )
    return identity_id


# Reads never trust a stored value's type: rows written by older versions (or by an
# import before imports were checked) may hold text where a number belongs.
LATEST_TIMESTAMP = 4_102_444_800.0  # 2100-01-01


def _time(column: str) -> str:
    """SQL for a stored time as a number: 0.0 when it is not a plausible one."""
    return (
        f"CASE WHEN typeof({column}) IN ('integer', 'real') AND {column} BETWEEN 0 AND {LATEST_TIMESTAMP} "
        f"THEN CAST({column} AS REAL) ELSE 0.0 END"
    )


@dataclass(frozen=True)
class IdentityRecord:
    id: int
    name: str
    created_at: float
    updated_at: float
    face_count: int
    kind: str = PERSON  # PERSON, or IGNORED: matched, but reported as ignored


@dataclass(frozen=True)
class FaceRecord:
    id: int
    identity_id: int
    source_model: str
    created_at: float
    models: tuple[str, ...]  # the models this sample has an embedding of
    source: str | None = None  # the camera it was seen by, for a sample taken from a sighting
    seen_at: float | None = None


@dataclass(frozen=True)
class NegativeRecord:
    id: int
    identity_id: int
    model_id: str
    source: str | None
    seen_at: float | None
    sighting_id: int | None
    created_at: float


@dataclass(frozen=True)
class NewNegative:
    model_id: str
    embedding: np.ndarray  # unit length
    crop_jpeg: bytes | None
    source: str | None
    seen_at: float | None
    sighting_id: int | None


@dataclass(frozen=True)
class NewFace:
    model_id: str
    embedding: np.ndarray
    crop_jpeg: bytes
    landmarks: Sequence[Sequence[float]]
    bbox: Sequence[float]
    detection_score: float
    source: str | None = None  # the camera, for a sample taken from a sighting
    seen_at: float | None = None


@dataclass(frozen=True)
class PendingCrop:
    face_id: int
    identity_id: int
    crop_jpeg: bytes


@dataclass(frozen=True)
class ImportSummary:
    identities_created: int
    faces: int
    embeddings: int
    replaced: bool
    embeddings_dropped: int = 0  # of models this server does not know: their crops are embedded again


@dataclass(frozen=True)
class StoredEmbeddings:
    face_ids: np.ndarray
    identity_ids: np.ndarray
    vectors: np.ndarray  # unit length
    # Samples whose stored vector of the model cannot be used (wrong type, length or
    # dimension, non-finite or zero): left out, to be embedded again from their crops.
    skipped_face_ids: tuple[int, ...] = field(default=())


class GalleryStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        # A taught face survives a power cut: every commit reaches the disk.
        self._db = sqlite_file.connect(path, synchronous="FULL")
        sqlite_file.migrate(self._db, path, MIGRATIONS, "Update the server or restore an older backup.")
        self._rekey_names()

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return sqlite_file.transaction(self._db)

    def schema_version(self) -> int:
        return sqlite_file.schema_version(self._db)

    def _rekey_names(self) -> None:
        """Bring stored name keys to the current rule (names.name_key), merging people it makes one.

        The rule grew stricter (NFKC, spaces folded): a key stored by an older
        server could miss a lookup or let a second person of the same name in.
        """
        rows = self._db.execute("SELECT id, name, name_key FROM identities ORDER BY id").fetchall()
        stale = [(int(i), str(n)) for i, n, key in rows if isinstance(n, str) and name_key(n) != key]
        if not stale:
            return
        with self._transaction() as db:
            for identity_id, name in stale:
                key = name_key(name)
                kept = db.execute(
                    "SELECT id FROM identities WHERE name_key = ? AND id != ?", (key, identity_id)
                ).fetchone()
                if kept is None:
                    db.execute("UPDATE identities SET name_key = ? WHERE id = ?", (key, identity_id))
                else:  # the same person under the current rule: one identity with all the samples
                    db.execute("UPDATE faces SET identity_id = ? WHERE identity_id = ?", (int(kept[0]), identity_id))
                    db.execute("DELETE FROM identities WHERE id = ?", (identity_id,))
        _LOGGER.info("Updated the name keys of %d people to the current naming rule", len(stale))

    # Reads

    def server_id(self) -> str:
        """A random id made with the database: it names this server (and its gallery) for clients."""
        return str(self._db.execute("SELECT value FROM meta WHERE key = 'server_id'").fetchone()[0])

    _IDENTITY_COLUMNS = (
        f"i.id, CAST(i.name AS TEXT), {_time('i.created_at')}, {_time('i.updated_at')}, COUNT(f.id), "
        f"CASE WHEN i.kind = '{IGNORED}' THEN '{IGNORED}' ELSE '{PERSON}' END"
    )

    def identities(self) -> list[IdentityRecord]:
        rows = self._db.execute(
            f"""
            SELECT {self._IDENTITY_COLUMNS}
            FROM identities i LEFT JOIN faces f ON f.identity_id = i.id
            GROUP BY i.id ORDER BY i.name_key
            """
        ).fetchall()
        return [IdentityRecord(*row) for row in rows]

    def identity(self, name: str) -> IdentityRecord | None:
        row = self._db.execute(
            f"""
            SELECT {self._IDENTITY_COLUMNS}
            FROM identities i LEFT JOIN faces f ON f.identity_id = i.id
            WHERE i.name_key = ? GROUP BY i.id
            """,
            (name_key(name),),
        ).fetchone()
        return IdentityRecord(*row) if row else None

    def identity_by_id(self, identity_id: int) -> IdentityRecord | None:
        row = self._db.execute(
            f"""
            SELECT {self._IDENTITY_COLUMNS}
            FROM identities i LEFT JOIN faces f ON f.identity_id = i.id
            WHERE i.id = ? GROUP BY i.id
            """,
            (identity_id,),
        ).fetchone()
        return IdentityRecord(*row) if row else None

    def identity_names(self) -> dict[int, str]:
        return {int(i): str(n) for i, n in self._db.execute("SELECT id, CAST(name AS TEXT) FROM identities")}

    def ignored_identity_ids(self) -> set[int]:
        return {int(row[0]) for row in self._db.execute(f"SELECT id FROM identities WHERE kind = '{IGNORED}'")}

    def sample_counts(self) -> dict[str, tuple[str, int]]:
        """For each name key: the person's name and their number of samples."""
        rows = self._db.execute(
            """
            SELECT i.name_key, CAST(i.name AS TEXT), COUNT(f.id)
            FROM identities i LEFT JOIN faces f ON f.identity_id = i.id GROUP BY i.id
            """
        )
        return {str(key): (str(name), int(count)) for key, name, count in rows}

    def identity_count(self) -> int:
        return int(self._db.execute(f"SELECT COUNT(*) FROM identities WHERE kind = '{PERSON}'").fetchone()[0])

    def _face_records(self, where: str = "", parameters: tuple[object, ...] = ()) -> list[FaceRecord]:
        rows = self._db.execute(
            f"""
            SELECT f.id, f.identity_id, CAST(f.source_model AS TEXT), {_time("f.created_at")},
                   group_concat(CAST(e.model_id AS TEXT), ' '),
                   CASE WHEN typeof(f.source) = 'text' THEN f.source END,
                   CASE WHEN f.seen_at IS NOT NULL THEN {_time("f.seen_at")} END
            FROM faces f LEFT JOIN embeddings e ON e.face_id = f.id
            {where} GROUP BY f.id ORDER BY f.id
            """,
            parameters,
        ).fetchall()
        return [
            FaceRecord(row[0], row[1], row[2], row[3], tuple(sorted((row[4] or "").split())), row[5], row[6])
            for row in rows
        ]

    def faces(self) -> list[FaceRecord]:
        return self._face_records()

    def face(self, identity_id: int, face_id: int) -> FaceRecord | None:
        found = self._face_records("WHERE f.id = ? AND f.identity_id = ?", (face_id, identity_id))
        return found[0] if found else None

    def crop(self, face_id: int) -> bytes | None:
        """The stored JPEG of a sample; None when there is none (or what is stored is not a blob)."""
        row = self._db.execute(
            "SELECT crop_jpeg FROM faces WHERE id = ? AND typeof(crop_jpeg) = 'blob'", (face_id,)
        ).fetchone()
        return bytes(row[0]) if row else None

    def embeddings(self, model_id: str, dim: int) -> StoredEmbeddings:
        """The usable vectors of a model, at unit length; the samples whose vector is not usable are named."""
        rows = self._db.execute(
            """
            SELECT f.id, f.identity_id, e.dim, e.vector, typeof(e.vector) = 'blob'
            FROM embeddings e JOIN faces f ON f.id = e.face_id JOIN identities i ON i.id = f.identity_id
            WHERE e.model_id = ? ORDER BY f.id
            """,
            (model_id,),
        ).fetchall()
        size = 4 * dim
        fits = [row for row in rows if row[4] and row[2] == dim and len(row[3]) == size]
        skipped = {int(row[0]) for row in rows if not (row[4] and row[2] == dim and len(row[3]) == size)}
        vectors = np.frombuffer(b"".join(row[3] for row in fits), dtype="<f4").reshape(len(fits), dim)
        vectors = vectors.astype(np.float64)
        with np.errstate(all="ignore"):
            norms = np.linalg.norm(vectors, axis=1)
            usable = np.isfinite(vectors).all(axis=1) & np.isfinite(norms) & (norms > 1e-6)
            unit = (vectors[usable] / norms[usable, None]).astype(np.float32)
        skipped.update(int(row[0]) for row, ok in zip(fits, usable, strict=True) if not ok)
        kept = [row for row, ok in zip(fits, usable, strict=True) if ok]
        return StoredEmbeddings(
            face_ids=np.array([r[0] for r in kept], dtype=np.int64),
            identity_ids=np.array([r[1] for r in kept], dtype=np.int64),
            vectors=unit.reshape(len(kept), dim),
            skipped_face_ids=tuple(sorted(skipped)),
        )

    _PENDING_COLUMNS = "f.id, f.identity_id, CASE WHEN typeof(f.crop_jpeg) = 'blob' THEN f.crop_jpeg ELSE X'' END"

    def crops_without_embedding(self, model_id: str, also: Sequence[int] = ()) -> list[PendingCrop]:
        """Samples that have no embedding of this model yet (and the samples ``also``), with their crops.

        A crop that is not a blob is given as empty bytes: it fails to decode, and
        the sample stays unused.
        """
        rows = self._db.execute(
            f"""
            SELECT {self._PENDING_COLUMNS} FROM faces f
            WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.face_id = f.id AND e.model_id = ?)
            ORDER BY f.id
            """,
            (model_id,),
        ).fetchall()
        for face_id in also:
            rows.extend(self._db.execute(f"SELECT {self._PENDING_COLUMNS} FROM faces f WHERE f.id = ?", (face_id,)))
        rows.sort(key=lambda row: int(row[0]))
        return [PendingCrop(face_id, identity_id, bytes(crop)) for face_id, identity_id, crop in rows]

    def face_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0])

    def embedding_count(self, model_id: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)).fetchone()[0])

    def size_bytes(self) -> int:
        """The bytes the gallery's pages in use take (free pages, reused by later writes, not counted)."""
        pages = int(self._db.execute("PRAGMA page_count").fetchone()[0])
        free = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
        page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        return (pages - free) * page_size

    # Writes, each one transaction

    def add_face(self, name: str, face: NewFace, kind: str = PERSON) -> tuple[IdentityRecord, int, bool]:
        """Store a sample and its embedding under a name, creating the identity (of ``kind``) if it is new."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT id FROM identities WHERE name_key = ?", (name_key(name),)).fetchone()
            created = row is None
            if created:
                identity_id = next_identity_id(db)
                db.execute(
                    "INSERT INTO identities (id, name, name_key, created_at, updated_at, kind)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (identity_id, name, name_key(name), now, now, kind),
                )
            else:
                identity_id = int(row[0])
                db.execute("UPDATE identities SET updated_at = ? WHERE id = ?", (now, identity_id))
            cursor = db.execute(
                """
                INSERT INTO faces (identity_id, source_model, crop_jpeg, landmarks, bbox, detection_score, created_at,
                                   source, seen_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    identity_id,
                    face.model_id,
                    face.crop_jpeg,
                    _landmarks_json(face.landmarks),
                    _bbox_json(face.bbox),
                    float(face.detection_score),
                    now,
                    face.source,
                    face.seen_at,
                ),
            )
            face_id = int(cursor.lastrowid or 0)
            self._insert_embedding(db, face_id, face.model_id, face.embedding, now)
        identity = self.identity(name)
        assert identity is not None
        return identity, face_id, created

    @staticmethod
    def _insert_embedding(
        db: sqlite3.Connection, face_id: int, model_id: str, embedding: np.ndarray, now: float
    ) -> bool:
        vector = np.ascontiguousarray(embedding, dtype="<f4").reshape(-1)
        cursor = db.execute(
            """
            INSERT OR REPLACE INTO embeddings (face_id, model_id, dim, vector, created_at)
            SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM faces WHERE id = ?)
            """,
            (face_id, model_id, int(vector.size), vector.tobytes(), now, face_id),
        )
        return cursor.rowcount == 1

    def add_embedding(self, face_id: int, model_id: str, embedding: np.ndarray) -> bool:
        """Store another model's embedding of a sample; False if the sample is gone."""
        with self._transaction() as db:
            return self._insert_embedding(db, face_id, model_id, embedding, time.time())

    def export_to(self, target: Path) -> None:
        """A consistent copy of the whole gallery as one SQLite file (the online backup API)."""
        with contextlib.closing(sqlite3.connect(target)) as copy:
            self._db.backup(copy)

    def import_validated(self, content: ValidatedImport, *, replace: bool) -> ImportSummary:
        """Add (or, with ``replace``, swap in) the people of a checked gallery file, in one transaction.

        ``content`` comes from ``importing.validate_import``: only what passed its
        checks is written.  People whose names share a key with someone here are merged.
        """
        created = faces = embeddings = 0
        with self._transaction() as db:
            if replace:
                db.execute("DELETE FROM identities")
            for identity in content.identities:
                row = db.execute("SELECT id FROM identities WHERE name_key = ?", (identity.key,)).fetchone()
                if row is None:
                    identity_id = next_identity_id(db)
                    db.execute(
                        "INSERT INTO identities (id, name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                        (identity_id, identity.name, identity.key, identity.created_at, identity.updated_at),
                    )
                    created += 1
                else:
                    identity_id = int(row[0])
                    db.execute(
                        f"UPDATE identities SET updated_at = max({_time('updated_at')}, ?) WHERE id = ?",
                        (identity.updated_at, identity_id),
                    )
                for face in identity.faces:
                    cursor = db.execute(
                        """
                        INSERT INTO faces (identity_id, source_model, crop_jpeg, landmarks, bbox,
                                           detection_score, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                        (
                            identity_id,
                            face.source_model,
                            face.crop_jpeg,
                            _landmarks_json(face.landmarks),
                            _bbox_json(face.bbox),
                            face.detection_score,
                            face.created_at,
                        ),
                    )
                    face_id = int(cursor.lastrowid or 0)
                    faces += 1
                    for embedding in face.embeddings:
                        vector = np.ascontiguousarray(embedding.vector, dtype="<f4").reshape(-1)
                        db.execute(
                            """
                            INSERT INTO embeddings (face_id, model_id, dim, vector, created_at)
                            VALUES (?, ?, ?, ?, ?)
                            """,
                            (face_id, embedding.model_id, int(vector.size), vector.tobytes(), embedding.created_at),
                        )
                        embeddings += 1
        return ImportSummary(created, faces, embeddings, replace, content.embeddings_dropped)

    def delete_identity(self, identity_id: int) -> list[int]:
        """Remove an identity with all its samples; the ids of the samples removed."""
        with self._transaction() as db:
            face_ids = [r[0] for r in db.execute("SELECT id FROM faces WHERE identity_id = ?", (identity_id,))]
            db.execute("DELETE FROM identities WHERE id = ?", (identity_id,))
        return face_ids

    def add_negative(self, identity_id: int, negative: NewNegative) -> int:
        """Store a face the owner said is not this identity."""
        vector = np.ascontiguousarray(negative.embedding, dtype="<f4").reshape(-1)
        with self._transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO negatives (identity_id, model_id, dim, vector, crop_jpeg, source, seen_at, sighting_id,
                                       created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    identity_id,
                    negative.model_id,
                    int(vector.size),
                    vector.tobytes(),
                    negative.crop_jpeg,
                    negative.source,
                    negative.seen_at,
                    negative.sighting_id,
                    time.time(),
                ),
            )
            return int(cursor.lastrowid or 0)

    _NEGATIVE_COLUMNS = (
        "n.id, n.identity_id, CAST(n.model_id AS TEXT), CASE WHEN typeof(n.source) = 'text' THEN n.source END, "
        f"CASE WHEN n.seen_at IS NOT NULL THEN {_time('n.seen_at')} END, "
        f"CASE WHEN typeof(n.sighting_id) = 'integer' THEN n.sighting_id END, {_time('n.created_at')}"
    )

    def negatives(self, identity_id: int | None = None) -> list[NegativeRecord]:
        where, parameters = ("WHERE n.identity_id = ?", (identity_id,)) if identity_id is not None else ("", ())
        rows = self._db.execute(f"SELECT {self._NEGATIVE_COLUMNS} FROM negatives n {where} ORDER BY n.id", parameters)
        return [NegativeRecord(*row) for row in rows]

    def negative_vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(negative ids, identity ids, vectors) of one model; rows that are not usable are left out."""
        rows = self._db.execute(
            """
            SELECT n.id, n.identity_id, n.vector FROM negatives n
            WHERE n.model_id = ? AND n.dim = ? AND typeof(n.vector) = 'blob' AND length(n.vector) = ?
            ORDER BY n.id
            """,
            (model_id, dim, 4 * dim),
        ).fetchall()
        vectors = np.frombuffer(b"".join(row[2] for row in rows), dtype="<f4").reshape(len(rows), dim)
        usable = np.isfinite(vectors).all(axis=1) & (np.linalg.norm(vectors, axis=1) > 1e-6)
        kept = [row for row, ok in zip(rows, usable, strict=True) if ok]
        return (
            np.array([r[0] for r in kept], np.int64),
            np.array([r[1] for r in kept], np.int64),
            np.ascontiguousarray(vectors[usable], np.float32),
        )

    def negative_crop(self, negative_id: int) -> bytes | None:
        row = self._db.execute(
            "SELECT crop_jpeg FROM negatives WHERE id = ? AND typeof(crop_jpeg) = 'blob'", (negative_id,)
        ).fetchone()
        return bytes(row[0]) if row else None

    def delete_negative(self, identity_id: int, negative_id: int) -> bool:
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM negatives WHERE id = ? AND identity_id = ?", (negative_id, identity_id))
            return cursor.rowcount == 1

    def delete_face(self, identity_id: int, face_id: int) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM faces WHERE id = ? AND identity_id = ?", (face_id, identity_id))
            db.execute("UPDATE identities SET updated_at = ? WHERE id = ?", (now, identity_id))

    def rename(self, identity_id: int, new_name: str) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE identities SET name = ?, name_key = ?, updated_at = ? WHERE id = ?",
                (new_name, name_key(new_name), now, identity_id),
            )


def _landmarks_json(landmarks: Sequence[Sequence[float]]) -> str:
    return json.dumps([[round(float(v), 2) for v in point] for point in landmarks])


def _bbox_json(bbox: Sequence[float]) -> str:
    return json.dumps([round(float(v), 2) for v in bbox])
