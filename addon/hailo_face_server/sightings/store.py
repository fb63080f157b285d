"""SQLite storage of sightings: the faces recognition returned for each camera, kept for a limited time.

A file of its own, apart from the gallery: the gallery is what the owner taught
and must survive anything; sightings are a rolling log, written on every
recognition, that may be thrown away.

Durability: WAL journal with ``synchronous=NORMAL``.  Every write is one
transaction (the faces of one recognised image are one write: ``batch``); a
committed one survives the process being killed (it is in the WAL file),
and the file is never left inconsistent.  A power cut may lose the last
sightings committed since the previous checkpoint.  That is the trade:
a sighting is written several times a second per camera, and a flush of the
disk on each (``FULL``, as the gallery does) would cost the most on the SD
cards and eMMC of a Home Assistant host, for data that ages out anyway.

Layout: the small columns live in ``sightings``; the embedding and the JPEG
crop in tables of their own, keyed by the sighting's id, so listing, counting
and summing read a few hundred bytes a row, not the kilobytes of a crop.
Ids are AUTOINCREMENT: a sighting id handed to a client is never reused for
another face after the newest sighting is deleted.

Space: ``auto_vacuum=INCREMENTAL`` is set when the file is made, and ``purge``
gives freed pages back to the filesystem, so the cap on stored bytes holds for
the file too, not only for the pages in use.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import json
import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hailo_face_server import sqlite_file
from hailo_face_server.errors import InvalidRequest
from hailo_face_server.gallery.store import LATEST_TIMESTAMP
from hailo_face_server.sqlite_file import SchemaTooNew

__all__ = [
    "MAX_PAGE",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "ClusterSummary",
    "IdentitySighting",
    "NewSighting",
    "RecentSightings",
    "RetentionPolicy",
    "SchemaTooNew",
    "SightingPage",
    "SightingQuery",
    "SightingRecord",
    "SightingStore",
    "SightingSummary",
    "SourceSummary",
]

OUTCOMES: tuple[str, ...] = ("named", "unknown", "ignored")
MAX_PAGE = 500
# A repeat is looked for among a camera's newest sightings within the merge window, at most this many:
# a face at the door is among the last few; a crowd in front of a camera would otherwise make every
# request read the whole window (5,000 sightings of one camera within it: 37 ms a request, measured).
RECENT_LIMIT = 256
# The rows ``recent`` and ``best_recent_quality`` read (parameters: source, since, model id, limit).
_RECENT_ROWS = """
    FROM sightings s JOIN sighting_embeddings e ON e.sighting_id = s.id
    WHERE s.source = ? AND s.last_seen >= ? AND e.model_id = ?
    ORDER BY s.last_seen DESC, s.id DESC
    LIMIT ?
"""

# Ids per statement and rows per purge transaction: far below SQLite's limit on
# bound parameters, and small enough that a purge of thousands of rows lets the
# WAL be checkpointed between batches instead of holding them all.
_BATCH = 500
# What a sighting costs beside its crop and embedding: its row, index entries and
# its share of partly filled pages.  Only a first guess: purge scales it by what
# the pages in use actually are.
_ROW_OVERHEAD_BYTES = 400
# The WAL file is cut back to this after a checkpoint, so one large purge does
# not leave a large WAL file behind.
_WAL_LIMIT_BYTES = 4 * 1024 * 1024

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            times_seen INTEGER NOT NULL DEFAULT 1,
            bbox TEXT NOT NULL,
            landmarks TEXT NOT NULL,
            landmark_scheme TEXT NOT NULL,
            detection_score REAL NOT NULL,
            face_size REAL NOT NULL,
            sharpness REAL NOT NULL,
            frontalness REAL NOT NULL,
            quality REAL NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('named', 'unknown', 'ignored')),
            identity_id INTEGER,
            identity_name TEXT,
            confidence REAL NOT NULL,
            cluster_id INTEGER,
            labelled_at REAL,
            rejected_identity_id INTEGER,
            CHECK (outcome <> 'named' OR identity_id IS NOT NULL)
        )
        """,
        "CREATE INDEX sightings_by_time ON sightings(last_seen)",
        "CREATE INDEX sightings_by_source ON sightings(source, last_seen)",
        "CREATE INDEX sightings_by_outcome ON sightings(outcome, last_seen)",
        "CREATE INDEX sightings_by_identity ON sightings(identity_id, last_seen) WHERE identity_id IS NOT NULL",
        "CREATE INDEX sightings_by_cluster ON sightings(cluster_id, last_seen) WHERE cluster_id IS NOT NULL",
        """
        CREATE TABLE sighting_embeddings (
            sighting_id INTEGER PRIMARY KEY REFERENCES sightings(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            dim INTEGER NOT NULL CHECK (dim > 0),
            vector BLOB NOT NULL CHECK (length(vector) = 4 * dim)
        )
        """,
        """
        CREATE TABLE sighting_crops (
            sighting_id INTEGER PRIMARY KEY REFERENCES sightings(id) ON DELETE CASCADE,
            jpeg BLOB NOT NULL
        )
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


# Reads never trust a stored value's type: a file edited by hand, or damaged, may
# hold text where a number belongs.  Such a value reads as a neutral one.


def _time(column: str) -> str:
    """SQL for a stored time: 0.0 when it is not a plausible one."""
    return (
        f"CASE WHEN typeof({column}) IN ('integer', 'real') AND {column} BETWEEN 0 AND {LATEST_TIMESTAMP} "
        f"THEN CAST({column} AS REAL) ELSE 0.0 END"
    )


def _optional_time(column: str) -> str:
    return (
        f"CASE WHEN typeof({column}) IN ('integer', 'real') AND {column} BETWEEN 0 AND {LATEST_TIMESTAMP} "
        f"THEN CAST({column} AS REAL) END"
    )


def _number(column: str) -> str:
    """SQL for a stored score: 0.0 when it is not a finite number."""
    return (
        f"CASE WHEN typeof({column}) IN ('integer', 'real') AND abs({column}) < 1e300 "
        f"THEN CAST({column} AS REAL) ELSE 0.0 END"
    )


def _integer(column: str, default: str = "NULL") -> str:
    return f"CASE WHEN typeof({column}) = 'integer' THEN {column} ELSE {default} END"


@dataclass(frozen=True)
class NewSighting:
    """A face as recognition returned it, to be stored."""

    source: str  # the camera, e.g. camera.front_door
    seen_at: float  # unix time
    bbox: Sequence[float] | np.ndarray  # x1 y1 x2 y2, frame pixels
    landmarks: Sequence[Sequence[float]] | np.ndarray  # 5 x 2, frame pixels
    landmark_scheme: str  # a faces.LandmarkScheme value
    crop_jpeg: bytes
    model_id: str
    embedding: np.ndarray
    detection_score: float
    face_size: float
    sharpness: float
    frontalness: float
    quality: float
    outcome: str  # one of OUTCOMES
    identity_id: int | None
    identity_name: str | None
    confidence: float


@dataclass(frozen=True)
class SightingRecord:
    """A stored sighting, without its crop and embedding (``crop`` and ``vectors`` read those)."""

    id: int
    source: str
    first_seen: float
    last_seen: float
    times_seen: int
    bbox: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]  # five points; all zero if what is stored cannot be read
    landmark_scheme: str
    model_id: str
    embedding_dim: int
    detection_score: float
    face_size: float
    sharpness: float
    frontalness: float
    quality: float
    outcome: str
    identity_id: int | None
    identity_name: str | None
    confidence: float
    cluster_id: int | None
    labelled_at: float | None
    rejected_identity_id: int | None
    crop_bytes: int


@dataclass(frozen=True)
class RecentSightings:
    """Merge candidates, newest first: row i of each field is one sighting."""

    ids: np.ndarray  # int64
    last_seen: np.ndarray  # float64
    outcomes: tuple[str, ...]
    identity_ids: np.ndarray  # int64, -1 for none
    # float64, as stored: a float32 copy rounds a view's quality down, and its equal repeat counted as better
    qualities: np.ndarray
    vectors: np.ndarray  # N x dim float32, unit length

    @classmethod
    def none(cls, dim: int) -> RecentSightings:
        return cls(
            ids=np.zeros(0, np.int64),
            last_seen=np.zeros(0, np.float64),
            outcomes=(),
            identity_ids=np.zeros(0, np.int64),
            qualities=np.zeros(0, np.float64),
            vectors=np.zeros((0, dim), np.float32),
        )


@dataclass(frozen=True)
class SightingQuery:
    """Filters of ``SightingStore.list``; times bound ``last_seen`` (``since`` included, ``until`` not)."""

    source: str | None = None
    identity_id: int | None = None
    outcome: str | None = None
    cluster_id: int | None = None
    in_cluster: bool | None = None  # True: only sightings in a cluster; False: only those in none
    since: float | None = None
    until: float | None = None
    limit: int = 50
    cursor: str | None = None  # next_cursor of the previous page

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidRequest(f"The limit must be between 1 and {MAX_PAGE}.", limit=self.limit)
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise InvalidRequest(f"The outcome must be one of {', '.join(OUTCOMES)}.", outcome=self.outcome)


@dataclass(frozen=True)
class SightingPage:
    sightings: list[SightingRecord]
    next_cursor: str | None  # None on the last page
    total: int  # sightings matching the filters, on all pages


@dataclass(frozen=True)
class ClusterSummary:
    id: int
    size: int  # sightings
    seen: int  # times seen, repeats merged into a sighting included
    sources: tuple[str, ...]  # sorted
    first_seen: float
    last_seen: float
    best_sighting_ids: tuple[int, ...]  # highest quality first


@dataclass(frozen=True)
class SourceSummary:
    source: str
    count: int
    last_seen: float
    last_sighting_id: int
    last_outcome: str
    last_identity_name: str | None


@dataclass(frozen=True)
class IdentitySighting:
    """Where and when a known person was last seen."""

    identity_id: int
    name: str
    last_seen: float
    source: str
    confidence: float
    sighting_id: int


@dataclass(frozen=True)
class SightingSummary:
    total: int
    named: int
    unknown: int
    ignored: int
    sources: tuple[SourceSummary, ...]  # by source
    identities: tuple[IdentitySighting, ...]  # by name, then id


@dataclass(frozen=True)
class ClusterMove:
    """A sighting goes into ``cluster_id``, and the members of the ``merged`` clusters with it."""

    cluster_id: int
    merged: tuple[int, ...] = ()


@dataclass(frozen=True)
class RetentionPolicy:
    keep_unknown_s: float  # unknown sightings are deleted this long after they were last seen
    keep_named_s: float  # named and ignored ones
    max_sightings: int
    max_bytes: int  # pages in use, as size_bytes counts them

    def __post_init__(self) -> None:
        if min(self.keep_unknown_s, self.keep_named_s) < 0 or min(self.max_sightings, self.max_bytes) < 0:
            raise ValueError("Retention limits cannot be negative.")


class SightingStore:
    """One connection, used from one thread at a time.

    ``list`` is a method here, so annotations in the class spell the type ``builtins.list``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite_file.connect(
            path,
            synchronous="NORMAL",
            # auto_vacuum takes effect only on a new file, before its first table: it must come first.
            first=("PRAGMA auto_vacuum=INCREMENTAL",),
            then=(f"PRAGMA journal_size_limit={_WAL_LIMIT_BYTES}",),
        )
        sqlite_file.migrate(
            self._db, path, MIGRATIONS, "Update the server, or delete the file: it holds only recent sightings."
        )

        self._in_batch = False

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        if self._in_batch:
            return contextlib.nullcontext(self._db)  # part of the batch's one transaction
        return sqlite_file.transaction(self._db)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The writes inside are one transaction: all of them are kept, or (on an error) none."""
        if self._in_batch:
            raise RuntimeError("batches do not nest")
        with sqlite_file.transaction(self._db):
            self._in_batch = True
            try:
                yield
            finally:
                self._in_batch = False

    def schema_version(self) -> int:
        return sqlite_file.schema_version(self._db)

    # Reads

    _RECORD_COLUMNS = f"""
        s.id, CAST(s.source AS TEXT), {_time("s.first_seen")}, {_time("s.last_seen")},
        {_integer("s.times_seen", "1")}, s.bbox, s.landmarks, CAST(s.landmark_scheme AS TEXT),
        coalesce(CAST(e.model_id AS TEXT), ''), {_integer("e.dim", "0")},
        {_number("s.detection_score")}, {_number("s.face_size")}, {_number("s.sharpness")},
        {_number("s.frontalness")}, {_number("s.quality")}, CAST(s.outcome AS TEXT),
        {_integer("s.identity_id")}, CAST(s.identity_name AS TEXT), {_number("s.confidence")},
        {_integer("s.cluster_id")}, {_optional_time("s.labelled_at")}, {_integer("s.rejected_identity_id")},
        CASE WHEN typeof(c.jpeg) = 'blob' THEN length(c.jpeg) ELSE 0 END,
        s.last_seen
    """
    _RECORD_FROM = """
        sightings s
        LEFT JOIN sighting_embeddings e ON e.sighting_id = s.id
        LEFT JOIN sighting_crops c ON c.sighting_id = s.id
    """
    # Only unknown sightings belong to a cluster; the condition is repeated where
    # clusters are read so that a row that broke the rule is still never shown as one.
    _MEMBER = "s.cluster_id IS NOT NULL AND typeof(s.cluster_id) = 'integer' AND s.outcome = 'unknown'"

    def _records(self, where: str, parameters: Sequence[object], tail: str = "") -> builtins.list[Any]:
        return self._db.execute(
            f"SELECT {self._RECORD_COLUMNS} FROM {self._RECORD_FROM} {where} {tail}", tuple(parameters)
        ).fetchall()

    def get(self, sighting_id: int) -> SightingRecord | None:
        rows = self._records("WHERE s.id = ?", (sighting_id,))
        return _record(rows[0]) if rows else None

    def crop(self, sighting_id: int) -> bytes | None:
        """The stored JPEG; None when there is none (or what is stored is not a blob)."""
        row = self._db.execute(
            "SELECT jpeg FROM sighting_crops WHERE sighting_id = ? AND typeof(jpeg) = 'blob'", (sighting_id,)
        ).fetchone()
        return bytes(row[0]) if row else None

    def recent(
        self, source: str, since: float, model_id: str, dim: int | None = None, *, limit: int = RECENT_LIMIT
    ) -> RecentSightings:
        """The newest ``limit`` sightings of a camera last seen at ``since`` or later, with embeddings of the model.

        ``dim`` defaults to that of the model's newest stored embedding; rows of another
        dimension, or whose vector is not finite or is zero, are left out.
        """
        rows = self._db.execute(
            f"""
            SELECT s.id, {_time("s.last_seen")}, CAST(s.outcome AS TEXT), {_integer("s.identity_id", "-1")},
                   {_number("s.quality")}, e.dim, e.vector, typeof(e.vector) = 'blob'
            {_RECENT_ROWS}
            """,
            (source, since, model_id, limit),
        ).fetchall()
        size = self._model_dim(model_id) if dim is None else dim
        kept, vectors = _unit_vectors([(row[5], row[6], row[7]) for row in rows], size)
        rows = [row for row, ok in zip(rows, kept, strict=True) if ok]
        return RecentSightings(
            ids=np.array([row[0] for row in rows], dtype=np.int64),
            last_seen=np.array([row[1] for row in rows], dtype=np.float64),
            outcomes=tuple(str(row[2]) for row in rows),
            identity_ids=np.array([row[3] for row in rows], dtype=np.int64),
            qualities=np.array([row[4] for row in rows], dtype=np.float64),
            vectors=vectors,
        )

    def best_recent_quality(
        self, source: str, since: float, model_id: str, *, limit: int = RECENT_LIMIT
    ) -> float | None:
        """The best quality among ``recent``'s sightings (the same ones; None: there are none)."""
        row = self._db.execute(
            f"""
            SELECT max(quality) FROM (SELECT {_number("s.quality")} AS quality {_RECENT_ROWS})
            """,
            (source, since, model_id, limit),
        ).fetchone()
        return float(row[0]) if row is not None and row[0] is not None else None

    def _model_dim(self, model_id: str) -> int:
        row = self._db.execute(
            """
            SELECT dim FROM sighting_embeddings WHERE model_id = ? AND typeof(dim) = 'integer' AND dim > 0
            ORDER BY sighting_id DESC LIMIT 1
            """,
            (model_id,),
        ).fetchone()
        return int(row[0]) if row else 0

    def vectors(self, sighting_ids: Sequence[int], model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids found, N x dim float32 unit vectors), in the order asked.

        Vectors of another model or dimension, and unusable ones, are left out: the caller
        compares only like with like.
        """
        found: dict[int, tuple[object, object, object]] = {}
        for chunk in _chunks(sighting_ids):
            marks = ", ".join("?" * len(chunk))
            for sighting_id, stored_dim, vector, is_blob in self._db.execute(
                f"""
                SELECT sighting_id, dim, vector, typeof(vector) = 'blob' FROM sighting_embeddings
                WHERE model_id = ? AND sighting_id IN ({marks})
                """,
                (model_id, *chunk),
            ):
                found[int(sighting_id)] = (stored_dim, vector, is_blob)
        ids = [int(i) for i in sighting_ids if int(i) in found]
        kept, vectors = _unit_vectors([found[i] for i in ids], dim)
        return np.array([i for i, ok in zip(ids, kept, strict=True) if ok], dtype=np.int64), vectors

    def list(self, query: SightingQuery) -> SightingPage:
        """Newest first (last seen, then id), a page at a time.

        Paging is by key, (last_seen, id) of the last row given, not by offset: a page
        costs the same deep in the list, and sightings added meanwhile do not shift it.
        """
        where, parameters = _filters(query)
        total = int(
            self._db.execute(f"SELECT COUNT(*) FROM sightings s {_where(where)}", tuple(parameters)).fetchone()[0]
        )
        if query.cursor is not None:
            key, last_id = _decode_cursor(query.cursor)
            # The first term bounds the index range; the second breaks ties on the time.
            where = [*where, "s.last_seen <= ?", "(s.last_seen < ? OR s.id < ?)"]
            parameters = [*parameters, key, key, last_id]
        rows = self._records(
            _where(where), [*parameters, query.limit + 1], "ORDER BY s.last_seen DESC, s.id DESC LIMIT ?"
        )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        cursor = _encode_cursor(rows[-1][-1], int(rows[-1][0])) if more else None
        return SightingPage([_record(row) for row in rows], cursor, total)

    def low_quality(self, limit: int) -> SightingPage:
        """Unknown sightings in no cluster (too poor to start one), newest first; ``list`` pages further."""
        return self.list(SightingQuery(outcome="unknown", in_cluster=False, limit=limit))

    def clustered(self, model_id: str, dim: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sighting ids, cluster ids, unit vectors) of the unknown sightings in clusters, to rebuild them at start.

        ``dim`` as for ``recent``.
        """
        rows = self._db.execute(
            f"""
            SELECT s.id, s.cluster_id, e.dim, e.vector, typeof(e.vector) = 'blob'
            FROM sightings s JOIN sighting_embeddings e ON e.sighting_id = s.id
            WHERE {self._MEMBER} AND e.model_id = ?
            ORDER BY s.cluster_id, s.id
            """,
            (model_id,),
        ).fetchall()
        size = self._model_dim(model_id) if dim is None else dim
        kept, vectors = _unit_vectors([(row[2], row[3], row[4]) for row in rows], size)
        rows = [row for row, ok in zip(rows, kept, strict=True) if ok]
        return (
            np.array([row[0] for row in rows], dtype=np.int64),
            np.array([row[1] for row in rows], dtype=np.int64),
            vectors,
        )

    def clusters(self, best: int = 6) -> builtins.list[ClusterSummary]:
        """Every cluster of unknown sightings, largest first, then the most recently seen."""
        totals = self._db.execute(
            f"""
            SELECT s.cluster_id, COUNT(*), SUM({_integer("s.times_seen", "1")}),
                   MIN({_time("s.first_seen")}), MAX({_time("s.last_seen")})
            FROM sightings s WHERE {self._MEMBER} GROUP BY s.cluster_id
            """
        ).fetchall()
        sources: dict[int, list[str]] = {}
        for cluster_id, source in self._db.execute(
            f"SELECT DISTINCT s.cluster_id, CAST(s.source AS TEXT) FROM sightings s WHERE {self._MEMBER}"
        ):
            sources.setdefault(int(cluster_id), []).append(str(source))
        best_ids: dict[int, list[int]] = {}
        for cluster_id, sighting_id in self._db.execute(
            f"""
            SELECT cluster_id, id FROM (
                SELECT s.cluster_id, s.id, ROW_NUMBER() OVER (
                    PARTITION BY s.cluster_id
                    ORDER BY {_number("s.quality")} DESC, {_time("s.last_seen")} DESC, s.id DESC
                ) AS rank
                FROM sightings s WHERE {self._MEMBER}
            ) WHERE rank <= ? ORDER BY cluster_id, rank
            """,
            (max(best, 0),),
        ):
            best_ids.setdefault(int(cluster_id), []).append(int(sighting_id))
        summaries = [
            ClusterSummary(
                id=int(cluster_id),
                size=int(size),
                seen=int(seen),
                sources=tuple(sorted(sources.get(int(cluster_id), []))),
                first_seen=float(first),
                last_seen=float(last),
                best_sighting_ids=tuple(best_ids.get(int(cluster_id), [])),
            )
            for cluster_id, size, seen, first, last in totals
        ]
        summaries.sort(key=lambda c: (-c.size, -c.last_seen, c.id))
        return summaries

    def cluster_members(self, cluster_id: int) -> builtins.list[SightingRecord]:
        """Newest first."""
        rows = self._records(
            f"WHERE s.cluster_id = ? AND {self._MEMBER}", (cluster_id,), "ORDER BY s.last_seen DESC, s.id DESC"
        )
        return [_record(row) for row in rows]

    def summary(self) -> SightingSummary:
        """Counts, the latest sighting of each camera and the latest of each known person.

        The latest of each is one look-up at the end of its run in the (source, time) or
        (identity, time) index, not a sort of every sighting; the grouped values stay in
        SQLite, so one that does not read back as it is stored is still found.
        """
        by_outcome = {
            str(outcome): int(n)
            for outcome, n in self._db.execute("SELECT CAST(outcome AS TEXT), COUNT(*) FROM sightings GROUP BY 1")
        }
        latest_by_source = [
            (int(i), int(n))
            for i, n in self._db.execute(
                """
                SELECT (SELECT l.id FROM sightings l WHERE l.source = g.source
                        ORDER BY l.last_seen DESC, l.id DESC LIMIT 1), g.n
                FROM (SELECT source, COUNT(*) AS n FROM sightings GROUP BY source) g
                """
            )
        ]
        latest_by_identity = [
            int(i)
            for (i,) in self._db.execute(
                """
                SELECT (SELECT l.id FROM sightings l WHERE l.identity_id = g.identity_id AND l.outcome = 'named'
                        ORDER BY l.last_seen DESC, l.id DESC LIMIT 1)
                FROM (SELECT identity_id FROM sightings WHERE identity_id IS NOT NULL GROUP BY identity_id) g
                """
            )
            if i is not None
        ]
        records = {record.id: record for record in self.records([i for i, _ in latest_by_source] + latest_by_identity)}
        sources = sorted(
            (
                SourceSummary(
                    source=records[i].source,
                    count=count,
                    last_seen=records[i].last_seen,
                    last_sighting_id=i,
                    last_outcome=records[i].outcome,
                    last_identity_name=records[i].identity_name,
                )
                for i, count in latest_by_source
            ),
            key=lambda s: s.source,
        )
        identities = sorted(
            (
                IdentitySighting(
                    identity_id=records[i].identity_id or 0,
                    name=records[i].identity_name or "",
                    last_seen=records[i].last_seen,
                    source=records[i].source,
                    confidence=records[i].confidence,
                    sighting_id=i,
                )
                for i in latest_by_identity
                if records[i].identity_id is not None
            ),
            key=lambda s: (s.name.casefold(), s.identity_id),
        )
        return SightingSummary(
            total=sum(by_outcome.values()),
            named=by_outcome.get("named", 0),
            unknown=by_outcome.get("unknown", 0),
            ignored=by_outcome.get("ignored", 0),
            sources=tuple(sources),
            identities=tuple(identities),
        )

    def records(self, sighting_ids: Sequence[int]) -> builtins.list[SightingRecord]:
        """The sightings of these ids that exist (in no particular order), a few queries for many ids."""
        records: builtins.list[SightingRecord] = []
        for chunk in _chunks(sighting_ids):
            marks = ", ".join("?" * len(chunk))
            records.extend(_record(row) for row in self._records(f"WHERE s.id IN ({marks})", chunk))
        return records

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0])

    def size_bytes(self) -> int:
        """The bytes the pages in use take: free pages, reused by later writes, are not counted."""
        pages = int(self._db.execute("PRAGMA page_count").fetchone()[0])
        free = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
        page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        return (pages - free) * page_size

    # Writes, each one transaction

    def add(self, sighting: NewSighting, cluster: Callable[[int], ClusterMove | None] | None = None) -> int:
        """Store a new sighting, seen once; its id.

        ``cluster`` (given the new id) may put it in a cluster in the same transaction (or the
        enclosing ``batch``'s).
        """
        values = _checked(sighting)
        with self._transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO sightings (source, first_seen, last_seen, times_seen, bbox, landmarks, landmark_scheme,
                                       detection_score, face_size, sharpness, frontalness, quality, outcome,
                                       identity_id, identity_name, confidence)
                VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    sighting.source,
                    values.seen_at,
                    values.seen_at,
                    values.bbox,
                    values.landmarks,
                    sighting.landmark_scheme,
                    *values.view_scores,
                    sighting.outcome,
                    sighting.identity_id,
                    sighting.identity_name,
                    values.confidence,
                ),
            )
            sighting_id = int(cursor.lastrowid or 0)
            self._write_blobs(db, sighting_id, sighting, values)
            move = cluster(sighting_id) if cluster is not None else None
            if move is not None:
                self._move_to_cluster(db, sighting_id, move)
        return sighting_id

    @staticmethod
    def _write_blobs(db: sqlite3.Connection, sighting_id: int, sighting: NewSighting, values: _Checked) -> None:
        db.execute(
            "INSERT OR REPLACE INTO sighting_embeddings (sighting_id, model_id, dim, vector) VALUES (?, ?, ?, ?)",
            (sighting_id, sighting.model_id, values.dim, values.vector),
        )
        db.execute(
            "INSERT OR REPLACE INTO sighting_crops (sighting_id, jpeg) VALUES (?, ?)", (sighting_id, values.crop)
        )

    def merge(self, sighting_id: int, seen_at: float, better: NewSighting | None) -> bool:
        """Count a repeat of a stored face; False when the sighting is gone (purged or deleted meanwhile).

        ``better`` is a better view of it: its crop, embedding, box, landmarks and scores
        replace the stored ones, and so do its outcome, identity and confidence unless the
        owner labelled the sighting (their word is not overwritten by a recognition).
        ``better.seen_at`` is not used: ``seen_at`` is when the repeat was seen.  A sighting
        that is no longer unknown leaves its cluster.
        """
        if not math.isfinite(seen_at):
            raise ValueError("seen_at must be a finite time")
        values = _checked(better) if better is not None else None
        with self._transaction() as db:
            cursor = db.execute(
                f"""
                UPDATE sightings SET times_seen = {_integer("times_seen", "1")} + 1,
                    first_seen = min({_time("first_seen")}, ?), last_seen = max({_time("last_seen")}, ?)
                WHERE id = ?
                """,
                (seen_at, seen_at, sighting_id),
            )
            if cursor.rowcount == 0:
                return False
            if better is not None and values is not None:
                db.execute(
                    """
                    UPDATE sightings SET bbox = ?, landmarks = ?, landmark_scheme = ?, detection_score = ?,
                        face_size = ?, sharpness = ?, frontalness = ?, quality = ?
                    WHERE id = ?
                    """,
                    (values.bbox, values.landmarks, better.landmark_scheme, *values.view_scores, sighting_id),
                )
                db.execute(
                    """
                    UPDATE sightings SET outcome = ?, identity_id = ?, identity_name = ?, confidence = ?,
                        cluster_id = CASE WHEN ? = 'unknown' THEN cluster_id END
                    WHERE id = ? AND labelled_at IS NULL
                    """,
                    (
                        better.outcome,
                        better.identity_id,
                        better.identity_name,
                        values.confidence,
                        better.outcome,
                        sighting_id,
                    ),
                )
                self._write_blobs(db, sighting_id, better, values)
        return True

    def set_cluster(self, sighting_id: int, cluster_id: int, merged: Sequence[int] = ()) -> None:
        """Put an unknown sighting in a cluster, and move every member of the ``merged`` clusters into it."""
        with self._transaction() as db:
            self._move_to_cluster(db, sighting_id, ClusterMove(cluster_id, tuple(merged)))

    @staticmethod
    def _move_to_cluster(db: sqlite3.Connection, sighting_id: int, move: ClusterMove) -> None:
        db.execute(
            "UPDATE sightings SET cluster_id = ? WHERE id = ? AND outcome = 'unknown'", (move.cluster_id, sighting_id)
        )
        for chunk in _chunks(move.merged):
            marks = ", ".join("?" * len(chunk))
            db.execute(f"UPDATE sightings SET cluster_id = ? WHERE cluster_id IN ({marks})", (move.cluster_id, *chunk))

    def assign(
        self,
        sighting_ids: Sequence[int],
        outcome: str,
        identity_id: int | None,
        identity_name: str | None,
        *,
        labelled_at: float | None,
    ) -> int:
        """Set the outcome and identity and take the sightings out of their clusters.

        A sighting the owner labelled (``labelled_at``) is theirs for sure: its confidence becomes 1;
        otherwise it stays. Assigning a person the owner had rejected for a sighting withdraws the rejection.
        Returns the number of sightings changed.
        """
        _check_outcome(outcome, identity_id)
        changed = 0
        with self._transaction() as db:
            for chunk in _chunks(sighting_ids):
                marks = ", ".join("?" * len(chunk))
                cursor = db.execute(
                    f"""
                    UPDATE sightings SET outcome = ?, identity_id = ?, identity_name = ?, cluster_id = NULL,
                        labelled_at = ?, confidence = CASE WHEN ? IS NULL THEN confidence ELSE 1.0 END,
                        rejected_identity_id = CASE WHEN rejected_identity_id = ? THEN NULL
                                                    ELSE rejected_identity_id END
                    WHERE id IN ({marks})
                    """,
                    (outcome, identity_id, identity_name, labelled_at, labelled_at, identity_id, *chunk),
                )
                changed += cursor.rowcount
        return changed

    def reject(self, sighting_id: int, rejected_identity_id: int) -> bool:
        """The owner said the sighting is not this person: it becomes unknown; False if it is gone."""
        with self._transaction() as db:
            cursor = db.execute(
                """
                UPDATE sightings SET outcome = 'unknown', identity_id = NULL, identity_name = NULL,
                    labelled_at = NULL, rejected_identity_id = ?
                WHERE id = ?
                """,
                (rejected_identity_id, sighting_id),
            )
        return cursor.rowcount == 1

    def delete(self, sighting_ids: Sequence[int]) -> int:
        with self._transaction() as db:
            return _delete_ids(db, sighting_ids)

    def delete_cluster(self, cluster_id: int) -> builtins.list[int]:
        """Delete every sighting of a cluster; their ids."""
        return self._delete_where(f"WHERE s.cluster_id = ? AND {self._MEMBER}", (cluster_id,))

    def delete_identity(self, identity_id: int) -> builtins.list[int]:
        """Forgetting a person deletes their sightings (and the rejections that name them); the ids deleted."""
        with self._transaction() as db:
            ids = [int(r[0]) for r in db.execute("SELECT id FROM sightings WHERE identity_id = ?", (identity_id,))]
            _delete_ids(db, ids)
            # Gallery ids can be given again to a new person: a rejection must not carry over to them.
            db.execute(
                "UPDATE sightings SET rejected_identity_id = NULL WHERE rejected_identity_id = ?", (identity_id,)
            )
        return ids

    def _delete_where(self, where: str, parameters: Sequence[object]) -> builtins.list[int]:
        with self._transaction() as db:
            ids = [int(r[0]) for r in db.execute(f"SELECT s.id FROM sightings s {where}", tuple(parameters))]
            _delete_ids(db, ids)
        return ids

    def rename_identity(self, identity_id: int, name: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE sightings SET identity_name = ? WHERE identity_id = ?", (name, identity_id))

    def purge(self, policy: RetentionPolicy, now: float) -> builtins.list[int]:
        """Apply the retention policy; the ids deleted, for callers to drop from what they hold in memory.

        In order: unknown sightings past their age, named and ignored ones past theirs, then
        the oldest (by last seen) until the count and then the bytes fit.  Deletes go in
        batches, each a transaction.  The freed pages are then given back to the filesystem.
        """
        deleted = self._delete_oldest("WHERE outcome = 'unknown' AND last_seen < ?", (now - policy.keep_unknown_s,))
        deleted += self._delete_oldest(
            "WHERE outcome IN ('named', 'ignored') AND last_seen < ?", (now - policy.keep_named_s,)
        )
        excess = self.count() - policy.max_sightings
        if excess > 0:
            deleted += self._delete_oldest("", (), limit=excess)
        deleted += self._purge_bytes(policy.max_bytes)
        if deleted:
            self._give_back_free_pages()
        return deleted

    def _delete_oldest(self, where: str, parameters: Sequence[object], limit: int | None = None) -> builtins.list[int]:
        deleted: builtins.list[int] = []
        while limit is None or len(deleted) < limit:
            take = _BATCH if limit is None else min(_BATCH, limit - len(deleted))
            with self._transaction() as db:
                ids = [
                    int(r[0])
                    for r in db.execute(
                        f"SELECT id FROM sightings {where} ORDER BY last_seen, id LIMIT ?", (*parameters, take)
                    )
                ]
                _delete_ids(db, ids)
            deleted += ids
            if len(ids) < take:
                break
        return deleted

    def _purge_bytes(self, max_bytes: int) -> builtins.list[int]:
        """Delete the oldest sightings until the pages in use fit in ``max_bytes``.

        How many pages a row frees is not known before it is deleted (index entries, part
        filled pages), so each round estimates it, the crop and embedding plus an overhead
        scaled to the pages really in use, deletes that many, and measures again.
        """
        deleted: builtins.list[int] = []
        while (size := self.size_bytes()) > max_bytes:
            rows, stored = self._db.execute(
                f"""
                SELECT COUNT(*), total(length(c.jpeg) + length(e.vector) + {_ROW_OVERHEAD_BYTES})
                FROM sightings s
                LEFT JOIN sighting_embeddings e ON e.sighting_id = s.id
                LEFT JOIN sighting_crops c ON c.sighting_id = s.id
                """
            ).fetchone()
            if not rows:
                break
            scale = size / max(float(stored), 1.0)
            excess = size - max_bytes
            with self._transaction() as db:
                ids: builtins.list[int] = []
                freed = 0.0
                for sighting_id, estimate in db.execute(
                    f"""
                    SELECT s.id, coalesce(length(c.jpeg), 0) + coalesce(length(e.vector), 0) + {_ROW_OVERHEAD_BYTES}
                    FROM sightings s
                    LEFT JOIN sighting_embeddings e ON e.sighting_id = s.id
                    LEFT JOIN sighting_crops c ON c.sighting_id = s.id
                    ORDER BY s.last_seen, s.id LIMIT ?
                    """,
                    (_BATCH,),
                ).fetchall():
                    ids.append(int(sighting_id))
                    freed += float(estimate) * scale
                    if freed >= excess:
                        break
                _delete_ids(db, ids)
            deleted += ids
        return deleted

    def _give_back_free_pages(self) -> None:
        """Shrink the file by its free pages, then checkpoint so the WAL file shrinks as well."""
        with self._transaction() as db:
            db.execute("PRAGMA incremental_vacuum").fetchall()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


# Helpers


@dataclass(frozen=True)
class _Checked:
    """A new sighting's values, checked and in the form they are stored in."""

    seen_at: float
    bbox: str
    landmarks: str
    view_scores: tuple[float, float, float, float, float]  # detection, face size, sharpness, frontalness, quality
    confidence: float
    dim: int
    vector: bytes
    crop: bytes


def _check_outcome(outcome: str, identity_id: int | None) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    if outcome == "named" and identity_id is None:
        raise ValueError("a named sighting needs an identity id")


def _checked(sighting: NewSighting) -> _Checked:
    """Refuse what would be stored wrong (a NaN reads back as nothing, JSON has no infinity)."""
    _check_outcome(sighting.outcome, sighting.identity_id)
    bbox = np.asarray(sighting.bbox, dtype=np.float64)
    landmarks = np.asarray(sighting.landmarks, dtype=np.float64)
    vector = np.ascontiguousarray(sighting.embedding, dtype="<f4").reshape(-1)
    scores = (
        float(sighting.detection_score),
        float(sighting.face_size),
        float(sighting.sharpness),
        float(sighting.frontalness),
        float(sighting.quality),
    )
    if bbox.shape != (4,) or landmarks.shape != (5, 2):
        raise ValueError(f"bbox must be 4 numbers and landmarks 5 x 2, not {bbox.shape} and {landmarks.shape}")
    if vector.size == 0:
        raise ValueError("the embedding is empty")
    numbers = (float(sighting.seen_at), float(sighting.confidence), *scores)
    if not (all(map(math.isfinite, numbers)) and np.isfinite(bbox).all() and np.isfinite(landmarks).all()):
        raise ValueError("a sighting's times, scores, box and landmarks must be finite")
    if not np.isfinite(vector).all():
        raise ValueError("the embedding has values that are not finite")
    return _Checked(
        seen_at=float(sighting.seen_at),
        bbox=json.dumps([round(float(v), 2) for v in bbox]),
        landmarks=json.dumps([[round(float(x), 2), round(float(y), 2)] for x, y in landmarks]),
        view_scores=scores,
        confidence=float(sighting.confidence),
        dim=int(vector.size),
        vector=vector.tobytes(),
        crop=bytes(sighting.crop_jpeg),
    )


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    values = [int(i) for i in ids]
    for start in range(0, len(values), _BATCH):
        yield values[start : start + _BATCH]


def _delete_ids(db: sqlite3.Connection, ids: Sequence[int]) -> int:
    """Delete in statements of a batch of ids each; crops and embeddings go with them (foreign keys)."""
    deleted = 0
    for chunk in _chunks(ids):
        marks = ", ".join("?" * len(chunk))
        deleted += db.execute(f"DELETE FROM sightings WHERE id IN ({marks})", chunk).rowcount
    return deleted


def _where(clauses: Sequence[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def _filters(query: SightingQuery) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    parameters: list[object] = []
    for column, value in (
        ("s.source", query.source),
        ("s.identity_id", query.identity_id),
        ("s.outcome", query.outcome),
        ("s.cluster_id", query.cluster_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            parameters.append(value)
    if query.in_cluster is not None:
        clauses.append("s.cluster_id IS NOT NULL" if query.in_cluster else "s.cluster_id IS NULL")
    if query.since is not None:
        clauses.append("s.last_seen >= ?")
        parameters.append(float(query.since))
    if query.until is not None:
        clauses.append("s.last_seen < ?")
        parameters.append(float(query.until))
    return clauses, parameters


def _encode_cursor(key: object, sighting_id: int) -> str:
    """The stored sort key as it is (a damaged row's may be text) and the id, opaque to clients."""
    if isinstance(key, bytes):
        key = {"blob": key.hex()}
    raw = json.dumps([key, sighting_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[object, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, sighting_id = json.loads(raw)
        if isinstance(key, dict):
            key = bytes.fromhex(key["blob"])
    except (ValueError, TypeError, KeyError, binascii.Error) as err:
        raise InvalidRequest("The cursor is not one this server gave.") from err
    if isinstance(sighting_id, bool) or not isinstance(sighting_id, int) or not _fits_sqlite(sighting_id):
        raise InvalidRequest("The cursor is not one this server gave.")
    if isinstance(key, bool) or not isinstance(key, int | float | str | bytes):
        raise InvalidRequest("The cursor is not one this server gave.")
    if isinstance(key, int) and not _fits_sqlite(key):
        raise InvalidRequest("The cursor is not one this server gave.")
    return key, sighting_id


def _fits_sqlite(value: int) -> bool:
    """SQLite's integers are 64-bit: a larger one cannot even be bound as a parameter."""
    return -(2**63) <= value < 2**63


def _unit_vectors(rows: Sequence[tuple[object, object, object]], dim: int) -> tuple[list[bool], np.ndarray]:
    """Which of (dim, vector, is blob) rows are usable vectors of ``dim``, and those at unit length."""
    size = 4 * dim
    fits = [
        bool(is_blob) and stored_dim == dim and isinstance(vector, bytes) and len(vector) == size and dim > 0
        for stored_dim, vector, is_blob in rows
    ]
    blobs = [row[1] for row, ok in zip(rows, fits, strict=True) if ok]
    raw = np.frombuffer(b"".join(blob for blob in blobs if isinstance(blob, bytes)), dtype="<f4")
    vectors = raw.reshape(len(blobs), max(dim, 0)).astype(np.float64)
    with np.errstate(all="ignore"):
        norms = np.linalg.norm(vectors, axis=1)
        usable = np.isfinite(vectors).all(axis=1) & np.isfinite(norms) & (norms > 1e-6)
        unit = (vectors[usable] / norms[usable, None]).astype(np.float32)
    verdicts = iter(usable.tolist())
    kept = [ok and next(verdicts) for ok in fits]
    return kept, unit.reshape(int(usable.sum()), max(dim, 0))


def _floats(raw: object, shape: tuple[int, ...]) -> np.ndarray | None:
    """Stored JSON numbers of a given shape, or None when they are anything else."""
    if not isinstance(raw, str):
        return None
    try:
        values = np.asarray(json.loads(raw), dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if values.shape != shape or not np.isfinite(values).all():
        return None
    return values


def _record(row: Sequence[Any]) -> SightingRecord:
    bbox = _floats(row[5], (4,))
    landmarks = _floats(row[6], (5, 2))
    box = (0.0, 0.0, 0.0, 0.0) if bbox is None else (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))
    points = (
        tuple((0.0, 0.0) for _ in range(5)) if landmarks is None else tuple((float(x), float(y)) for x, y in landmarks)
    )
    return SightingRecord(
        id=int(row[0]),
        source=str(row[1]),
        first_seen=float(row[2]),
        last_seen=float(row[3]),
        times_seen=int(row[4]),
        bbox=box,
        landmarks=points,
        landmark_scheme=str(row[7]),
        model_id=str(row[8]),
        embedding_dim=int(row[9]),
        detection_score=float(row[10]),
        face_size=float(row[11]),
        sharpness=float(row[12]),
        frontalness=float(row[13]),
        quality=float(row[14]),
        outcome=str(row[15]),
        identity_id=None if row[16] is None else int(row[16]),
        identity_name=None if row[17] is None else str(row[17]),
        confidence=float(row[18]),
        cluster_id=None if row[19] is None else int(row[19]),
        labelled_at=None if row[20] is None else float(row[20]),
        rejected_identity_id=None if row[21] is None else int(row[21]),
        crop_bytes=int(row[22]),
    )
