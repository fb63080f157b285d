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
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hailo_face_server.gallery.names import name_key

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
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The database was written by a newer version of the server."""


@dataclass(frozen=True)
class IdentityRecord:
    id: int
    name: str
    created_at: float
    updated_at: float
    face_count: int


@dataclass(frozen=True)
class FaceRecord:
    id: int
    identity_id: int
    source_model: str
    created_at: float
    models: tuple[str, ...]  # the models this sample has an embedding of


@dataclass(frozen=True)
class NewFace:
    model_id: str
    embedding: np.ndarray
    crop_jpeg: bytes
    landmarks: Sequence[Sequence[float]]
    bbox: Sequence[float]
    detection_score: float


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


@dataclass(frozen=True)
class StoredEmbeddings:
    face_ids: np.ndarray
    identity_ids: np.ndarray
    vectors: np.ndarray


class GalleryStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{self.path} has schema version {version}; this server knows up to {SCHEMA_VERSION}. "
                "Update the server or restore an older backup."
            )
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._transaction() as db:
                for statement in statements:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    # Reads

    def server_id(self) -> str:
        """A random id made with the database: it names this server (and its gallery) for clients."""
        return str(self._db.execute("SELECT value FROM meta WHERE key = 'server_id'").fetchone()[0])

    def identities(self) -> list[IdentityRecord]:
        rows = self._db.execute(
            """
            SELECT i.id, i.name, i.created_at, i.updated_at, COUNT(f.id)
            FROM identities i LEFT JOIN faces f ON f.identity_id = i.id
            GROUP BY i.id ORDER BY i.name_key
            """
        ).fetchall()
        return [IdentityRecord(*row) for row in rows]

    def identity(self, name: str) -> IdentityRecord | None:
        row = self._db.execute(
            """
            SELECT i.id, i.name, i.created_at, i.updated_at, COUNT(f.id)
            FROM identities i LEFT JOIN faces f ON f.identity_id = i.id
            WHERE i.name_key = ? GROUP BY i.id
            """,
            (name_key(name),),
        ).fetchone()
        return IdentityRecord(*row) if row else None

    def _face_records(self, where: str = "", parameters: tuple[object, ...] = ()) -> list[FaceRecord]:
        rows = self._db.execute(
            f"""
            SELECT f.id, f.identity_id, f.source_model, f.created_at, group_concat(e.model_id, ' ')
            FROM faces f LEFT JOIN embeddings e ON e.face_id = f.id
            {where} GROUP BY f.id ORDER BY f.id
            """,
            parameters,
        ).fetchall()
        return [FaceRecord(row[0], row[1], row[2], row[3], tuple(sorted((row[4] or "").split()))) for row in rows]

    def faces(self) -> list[FaceRecord]:
        return self._face_records()

    def face(self, identity_id: int, face_id: int) -> FaceRecord | None:
        found = self._face_records("WHERE f.id = ? AND f.identity_id = ?", (face_id, identity_id))
        return found[0] if found else None

    def crop(self, face_id: int) -> bytes | None:
        row = self._db.execute("SELECT crop_jpeg FROM faces WHERE id = ?", (face_id,)).fetchone()
        return bytes(row[0]) if row else None

    def embeddings(self, model_id: str, dim: int) -> StoredEmbeddings:
        rows = self._db.execute(
            """
            SELECT f.id, f.identity_id, e.vector FROM embeddings e JOIN faces f ON f.id = e.face_id
            WHERE e.model_id = ? AND e.dim = ? ORDER BY f.id
            """,
            (model_id, dim),
        ).fetchall()
        vectors = np.zeros((len(rows), dim), dtype=np.float32)
        for i, (_, _, blob) in enumerate(rows):
            vectors[i] = np.frombuffer(blob, dtype="<f4")
        return StoredEmbeddings(
            face_ids=np.array([r[0] for r in rows], dtype=np.int64),
            identity_ids=np.array([r[1] for r in rows], dtype=np.int64),
            vectors=vectors,
        )

    def crops_without_embedding(self, model_id: str) -> list[PendingCrop]:
        """Samples that have no embedding of this model yet, with the crops to make one from."""
        rows = self._db.execute(
            """
            SELECT f.id, f.identity_id, f.crop_jpeg FROM faces f
            WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.face_id = f.id AND e.model_id = ?)
            ORDER BY f.id
            """,
            (model_id,),
        ).fetchall()
        return [PendingCrop(face_id, identity_id, bytes(crop)) for face_id, identity_id, crop in rows]

    def face_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0])

    def embedding_count(self, model_id: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)).fetchone()[0])

    # Writes, each one transaction

    def add_face(self, name: str, face: NewFace) -> tuple[IdentityRecord, int, bool]:
        """Store a sample and its embedding under a name, creating the identity if it is new."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT id FROM identities WHERE name_key = ?", (name_key(name),)).fetchone()
            created = row is None
            if created:
                cursor = db.execute(
                    "INSERT INTO identities (name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?)",
                    (name, name_key(name), now, now),
                )
                identity_id = int(cursor.lastrowid or 0)
            else:
                identity_id = int(row[0])
                db.execute("UPDATE identities SET updated_at = ? WHERE id = ?", (now, identity_id))
            cursor = db.execute(
                """
                INSERT INTO faces (identity_id, source_model, crop_jpeg, landmarks, bbox, detection_score, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    identity_id,
                    face.model_id,
                    face.crop_jpeg,
                    json.dumps([[round(float(v), 2) for v in point] for point in face.landmarks]),
                    json.dumps([round(float(v), 2) for v in face.bbox]),
                    float(face.detection_score),
                    now,
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

    def import_from(self, source: Path, *, replace: bool) -> ImportSummary:
        """Add (or, with ``replace``, swap in) every person of another gallery file, in one transaction.

        ``source`` must be at this schema version (open it with GalleryStore
        first, which migrates it).  People whose names match are merged.
        """
        self._db.execute("ATTACH DATABASE ? AS incoming", (str(source),))
        try:
            with self._transaction() as db:
                if replace:
                    db.execute("DELETE FROM identities")
                before = db.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
                db.execute(
                    """
                    INSERT INTO identities (name, name_key, created_at, updated_at)
                    SELECT name, name_key, created_at, updated_at FROM incoming.identities
                    WHERE name_key NOT IN (SELECT name_key FROM main.identities)
                    """
                )
                created = db.execute("SELECT COUNT(*) FROM identities").fetchone()[0] - before
                faces = db.execute(
                    """
                    SELECT f.id, i.name_key, f.source_model, f.crop_jpeg, f.landmarks, f.bbox,
                           f.detection_score, f.created_at
                    FROM incoming.faces f JOIN incoming.identities i ON i.id = f.identity_id ORDER BY f.id
                    """
                ).fetchall()
                embeddings = 0
                for old_id, key, model, crop, landmarks, bbox, score, created_at in faces:
                    cursor = db.execute(
                        """
                        INSERT INTO faces (identity_id, source_model, crop_jpeg, landmarks, bbox,
                                           detection_score, created_at)
                        SELECT id, ?, ?, ?, ?, ?, ? FROM identities WHERE name_key = ?
                        """,
                        (model, crop, landmarks, bbox, score, created_at, key),
                    )
                    embeddings += db.execute(
                        """
                        INSERT INTO embeddings (face_id, model_id, dim, vector, created_at)
                        SELECT ?, model_id, dim, vector, created_at FROM incoming.embeddings WHERE face_id = ?
                        """,
                        (cursor.lastrowid, old_id),
                    ).rowcount
        finally:
            self._db.execute("DETACH DATABASE incoming")
        return ImportSummary(created, len(faces), embeddings, replace)

    def delete_identity(self, identity_id: int) -> list[int]:
        """Remove an identity with all its samples; the ids of the samples removed."""
        with self._transaction() as db:
            face_ids = [r[0] for r in db.execute("SELECT id FROM faces WHERE identity_id = ?", (identity_id,))]
            db.execute("DELETE FROM identities WHERE id = ?", (identity_id,))
        return face_ids

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
