"""Reading a gallery file a client uploaded: all of it is checked before anything is stored.

An upload is untrusted.  It is opened read-only (``mode=ro``, ``query_only``,
``trusted_schema=OFF``, values capped at ``MAX_VALUE_BYTES``) and only real
tables with the expected columns are read (never a view, a virtual table or a
generated column), with caps on the rows and a time limit that interrupts
SQLite itself.  Every value is checked for its SQLite type, size and range;
crops must decode as JPEG; names follow the API's rules and their keys are
computed again; vectors of known models are made unit length and the others
dropped (the server embeds their crops again).  What passes is returned as
plain typed data: the store writes only that.

``validate_import`` touches nothing but the file, so it can run on any thread
while the gallery keeps answering on its own.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image

from hailo_face_server.errors import FaceServiceError, InvalidImport
from hailo_face_server.gallery.names import name_key, normalize_name
from hailo_face_server.gallery.store import SCHEMA_VERSION

# The embedding models the servers of this project run, and the length of their vectors.
KNOWN_MODELS: Mapping[str, int] = MappingProxyType({"dlib_resnet_v1": 128, "arcface_mobilefacenet": 512})

SQLITE_HEADER = b"SQLite format 3\x00"
MAX_IMPORT_IDENTITIES = 10_000
MAX_IMPORT_FACES = 100_000
IMPORT_TIME_LIMIT = 120.0  # seconds: a backstop; a legitimate 500 MB export takes ~20 s on a 2-core x86
MAX_EMBEDDINGS_PER_FACE = 8  # embedding rows read per face at most, of any model
MAX_PROBLEMS_SHOWN = 5

MIN_TIMESTAMP = 0.0
MAX_TIMESTAMP = 4_102_444_800.0  # 2100-01-01
MAX_CROP_BYTES = 512 * 1024
MAX_CROP_SIDE = 1024  # the server stores crops of at most 224 pixels a side
MAX_COORDINATE = 1e6
LANDMARK_POINTS = 5
MAX_JSON_CHARS = 1024
MAX_VALUE_BYTES = 1 << 20  # SQLITE_LIMIT_LENGTH of the upload's connection
MODEL_ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
PROGRESS_INSTRUCTIONS = 10_000  # SQLite VM steps between two looks at the clock

EXPECTED_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "identities": ("id", "name", "created_at", "updated_at"),
        "faces": (
            "id",
            "identity_id",
            "source_model",
            "crop_jpeg",
            "landmarks",
            "bbox",
            "detection_score",
            "created_at",
        ),
        "embeddings": ("face_id", "model_id", "dim", "vector", "created_at"),
    }
)
_CREATE_TABLE = re.compile(r"\s*CREATE\s+TABLE\b", re.IGNORECASE)
_NUMBER_TYPES = frozenset({"integer", "real"})
_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, Image.DecompressionBombError)
# Estimated bytes a stored sample takes beyond its crop and vectors (row, JSON, indexes).
FACE_OVERHEAD_BYTES = 256
EMBEDDING_OVERHEAD_BYTES = 64


@dataclass(frozen=True)
class ImportedEmbedding:
    model_id: str
    vector: np.ndarray  # float32, unit length, the known dimension of the model
    created_at: float


@dataclass(frozen=True)
class ImportedFace:
    file_id: int  # the sample's id in the file, for messages
    source_model: str
    crop_jpeg: bytes
    landmarks: tuple[tuple[float, float], ...]
    bbox: tuple[float, float, float, float]
    detection_score: float
    created_at: float
    embeddings: tuple[ImportedEmbedding, ...]

    @property
    def stored_bytes(self) -> int:
        """About what the sample will take in the gallery file."""
        vectors = sum(4 * e.vector.size + EMBEDDING_OVERHEAD_BYTES for e in self.embeddings)
        return len(self.crop_jpeg) + FACE_OVERHEAD_BYTES + vectors


@dataclass(frozen=True)
class ImportedIdentity:
    name: str  # normalised by the API's rules
    key: str  # name_key(name): the people of the file whose names share it are one person
    created_at: float
    updated_at: float
    faces: tuple[ImportedFace, ...]


@dataclass(frozen=True)
class ValidatedImport:
    identities: tuple[ImportedIdentity, ...]
    schema_version: int
    embeddings_dropped: int  # of models (or dimensions) this server does not know
    seconds: float  # how long reading and checking took

    @property
    def face_count(self) -> int:
        return sum(len(identity.faces) for identity in self.identities)

    @property
    def embedding_count(self) -> int:
        return sum(len(face.embeddings) for identity in self.identities for face in identity.faces)

    @property
    def stored_bytes(self) -> int:
        return sum(face.stored_bytes for identity in self.identities for face in identity.faces)


def validate_import(
    path: Path,
    *,
    known_models: Mapping[str, int] = KNOWN_MODELS,
    max_identities: int = MAX_IMPORT_IDENTITIES,
    max_faces: int = MAX_IMPORT_FACES,
    time_limit: float = IMPORT_TIME_LIMIT,
) -> ValidatedImport:
    """Read and check a whole gallery file; InvalidImport saying what is wrong, or its content.

    Safe to call from any thread: it opens its own read-only connection to
    ``path`` and touches nothing else.  ``known_models`` maps a model id to
    its vector length; embeddings of other models are dropped, not stored.
    """
    started = time.monotonic()
    _check_header(path)
    reader = _UploadReader(known_models, max_identities, max_faces, started + time_limit, time_limit)
    try:
        with closing(_open_read_only(path, reader.interrupt)) as db:
            content = reader.read(db)
    except sqlite3.Error as err:
        if reader.timed_out:
            raise reader.too_slow() from err
        raise InvalidImport(f"The file is not a readable Hailo Face gallery: {_printable(str(err))}.") from err
    except MemoryError as err:
        raise InvalidImport("The file holds more than this server can read into memory.") from err
    identities, version, dropped = content
    return ValidatedImport(identities, version, dropped, time.monotonic() - started)


def _check_header(path: Path) -> None:
    with path.open("rb") as file:
        if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise InvalidImport("The file is not a gallery export (an SQLite database file).")


def _open_read_only(path: Path, progress: Callable[[], int]) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=True)
    try:
        db.text_factory = _text_or_undecodable
        db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        db.set_progress_handler(progress, PROGRESS_INSTRUCTIONS)
        db.execute("PRAGMA query_only = 1")
        db.execute("PRAGMA trusted_schema = OFF")
        db.execute("PRAGMA cell_size_check = ON")
    except BaseException:
        db.close()
        raise
    return db


class _Undecodable:
    """A TEXT value that is not UTF-8 (never a ``str``, so every check refuses it)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def _text_or_undecodable(raw: bytes) -> str | _Undecodable:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _Undecodable(raw)


def _printable(text: str, limit: int = 160) -> str:
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


@dataclass(frozen=True)
class _Face:
    identity_id: int  # the person's id in the file
    sample: ImportedFace  # its embeddings are added once they are read

    @property
    def file_id(self) -> int:
        return self.sample.file_id


@dataclass
class _Identity:
    file_id: int
    name: str
    key: str
    created_at: float
    updated_at: float


class _UploadReader:
    def __init__(
        self,
        known_models: Mapping[str, int],
        max_identities: int,
        max_faces: int,
        deadline: float,
        time_limit: float,
    ) -> None:
        self.known_models = dict(known_models)
        self.max_identities = max_identities
        self.max_faces = max_faces
        self.deadline = deadline
        self.time_limit = time_limit
        self.timed_out = False
        self.problems: list[str] = []
        self.problem_count = 0
        # Rows with an integer id, refused or not: rows that refer to a refused one add no problem of their own.
        self.identity_ids_seen: set[int] = set()
        self.face_ids_seen: set[int] = set()

    # Time

    def interrupt(self) -> int:
        """SQLite's progress handler: non-zero stops the running statement."""
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0

    def too_slow(self) -> InvalidImport:
        return InvalidImport(
            f"Reading the file took longer than {self.time_limit:g} s: "
            "it is not a plain gallery export (or far larger than one)."
        )

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            raise self.too_slow()

    def rows(self, db: sqlite3.Connection, sql: str, parameters: Sequence[object] = ()) -> Iterator[tuple[object, ...]]:
        for row in db.execute(sql, parameters):
            self.check_time()
            yield row

    # Problems

    def problem(self, table: str, row_id: object, what: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            where = f"{table} row {row_id}" if isinstance(row_id, int) else table
            self.problems.append(_printable(f"{where}: {what}"))

    def refuse_if_problems(self) -> None:
        if not self.problem_count:
            return
        shown = "; ".join(self.problems)
        more = self.problem_count - len(self.problems)
        tail = f"; and {more} more" if more else ""
        count = f"{self.problem_count} problem{'s' if self.problem_count > 1 else ''}"
        raise InvalidImport(f"The file cannot be imported ({count}; nothing was changed): {shown}{tail}.")

    # The file

    def read(self, db: sqlite3.Connection) -> tuple[tuple[ImportedIdentity, ...], int, int]:
        version = self.schema_version(db)
        self.check_tables(db)  # before anything reads a row: no view, virtual table or computed column runs
        problems = [str(row[0]) for row in self.rows(db, "PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise InvalidImport(f"The file is damaged: {_printable('; '.join(problems))}.")
        identities = self.read_identities(db)
        faces = self.read_faces(db, identities)
        embeddings, dropped = self.read_embeddings(db, faces)
        self.refuse_if_problems()
        return self.assemble(identities, faces, embeddings), version, dropped

    def schema_version(self, db: sqlite3.Connection) -> int:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise InvalidImport(
                f"The file comes from a newer version of Hailo Face (gallery schema {version}; "
                f"this server reads up to {SCHEMA_VERSION}). Update this server, then import it again."
            )
        if version < 1:
            raise InvalidImport("The file is not a Hailo Face gallery export (it has no gallery schema version).")
        # Versions 1..SCHEMA_VERSION all have the columns read here (EXPECTED_COLUMNS); a
        # migration that changes them must teach this reader the older layout too.
        return version

    def check_tables(self, db: sqlite3.Connection) -> None:
        for table, expected in EXPECTED_COLUMNS.items():
            found = db.execute(
                "SELECT type, sql FROM main.sqlite_master WHERE name = ? COLLATE NOCASE", (table,)
            ).fetchall()
            if not found:
                raise InvalidImport(f"The file is not a Hailo Face gallery export: it has no {table} table.")
            kind, sql = found[0]
            if len(found) > 1 or kind != "table" or not isinstance(sql, str) or not _CREATE_TABLE.match(sql):
                what = "virtual table" if kind == "table" else _printable(str(kind), 20)
                raise InvalidImport(f"The file is not a plain gallery export: {table} is a {what}, not a table.")
            columns = {str(row[1]).lower(): int(row[6]) for row in db.execute(f'PRAGMA main.table_xinfo("{table}")')}
            missing = [name for name in expected if name not in columns]
            if missing:
                raise InvalidImport(f"The file is not a gallery export: {table} has no column {', '.join(missing)}.")
            if any(hidden for hidden in columns.values()):
                raise InvalidImport(f"The file is not a plain gallery export: {table} has computed columns.")

    def read_identities(self, db: sqlite3.Connection) -> dict[int, _Identity]:
        identities: dict[int, _Identity] = {}
        # Schema 2 added ignored identities (posters, TV faces): they stay on the server that made them.
        columns = {str(row[1]).lower() for row in db.execute('PRAGMA main.table_xinfo("identities")')}
        kind = "kind" if "kind" in columns else "'person'"
        rows = self.rows(
            db,
            f"""
            SELECT id, typeof(id), name, created_at, typeof(created_at), updated_at, typeof(updated_at),
                   {kind} IS 'person'
            FROM main.identities ORDER BY id LIMIT ?
            """,
            (self.max_identities + 1,),
        )
        for count, (row_id, id_type, name, created, created_type, updated, updated_type, person) in enumerate(rows, 1):
            if count > self.max_identities:
                raise InvalidImport(
                    f"The file holds more than {self.max_identities} people, the most one import takes."
                )
            if id_type != "integer" or not isinstance(row_id, int):
                self.problem("identities", None, "an id is not an integer")
                continue
            if row_id in self.identity_ids_seen:
                self.problem("identities", row_id, "the id is used twice")
                continue
            self.identity_ids_seen.add(row_id)
            if not person:
                continue  # its samples are left out with it, as those of a person refused
            clean = self.name(row_id, name)
            created_at = self.timestamp("identities", row_id, "created_at", created, created_type)
            updated_at = self.timestamp("identities", row_id, "updated_at", updated, updated_type)
            if clean is not None and created_at is not None and updated_at is not None:
                identities[row_id] = _Identity(row_id, clean, name_key(clean), created_at, updated_at)
        return identities

    def name(self, row_id: int, raw: object) -> str | None:
        if not isinstance(raw, str):
            self.problem("identities", row_id, "the name is not UTF-8 text")
            return None
        try:
            return normalize_name(raw)
        except FaceServiceError as err:
            self.problem("identities", row_id, f"invalid name: {err.message}")
            return None

    def timestamp(self, table: str, row_id: int | None, column: str, value: object, kind: object) -> float | None:
        number = _finite(value) if kind in _NUMBER_TYPES else None
        if number is None or not MIN_TIMESTAMP <= number <= MAX_TIMESTAMP:
            self.problem(table, row_id, f"{column} is not a time (seconds since 1970, before 2100)")
            return None
        return number

    def read_faces(self, db: sqlite3.Connection, identities: Mapping[int, _Identity]) -> dict[int, _Face]:
        faces: dict[int, _Face] = {}
        rows = self.rows(
            db,
            """
            SELECT id, typeof(id), identity_id, typeof(identity_id), source_model, crop_jpeg, typeof(crop_jpeg),
                   landmarks, typeof(landmarks), bbox, typeof(bbox), detection_score, typeof(detection_score),
                   created_at, typeof(created_at)
            FROM main.faces ORDER BY id LIMIT ?
            """,
            (self.max_faces + 1,),
        )
        for count, row in enumerate(rows, 1):
            if count > self.max_faces:
                raise InvalidImport(
                    f"The file holds more than {self.max_faces} face samples, the most one import takes."
                )
            face = self.face(row, identities)
            if face is not None:
                faces[face.file_id] = face
        return faces

    def face(self, row: tuple[object, ...], identities: Mapping[int, _Identity]) -> _Face | None:
        (row_id, id_type, identity_id, identity_type, model, crop, crop_type, landmarks, landmarks_type) = row[:9]
        (bbox, bbox_type, score, score_type, created, created_type) = row[9:]
        if id_type != "integer" or not isinstance(row_id, int):
            self.problem("faces", None, "an id is not an integer")
            return None
        if row_id in self.face_ids_seen:
            self.problem("faces", row_id, "the id is used twice")
            return None
        self.face_ids_seen.add(row_id)
        problems_before = self.problem_count
        if identity_type != "integer" or not isinstance(identity_id, int) or identity_id not in self.identity_ids_seen:
            self.problem("faces", row_id, "identity_id names no person of the file")
        if not isinstance(model, str) or not MODEL_ID_PATTERN.fullmatch(model):
            self.problem("faces", row_id, "source_model is not a model id")
        crop_problem = _crop_problem(crop) if crop_type == "blob" and isinstance(crop, bytes) else "is not a blob"
        if crop_problem:
            self.problem("faces", row_id, f"crop_jpeg {crop_problem}")
        points = _points(landmarks, landmarks_type, LANDMARK_POINTS, 2)
        if points is None:
            self.problem("faces", row_id, f"landmarks is not JSON of {LANDMARK_POINTS} [x, y] points")
        box = _points(bbox, bbox_type, 1, 4)
        if box is None:
            self.problem("faces", row_id, "bbox is not JSON of 4 numbers")
        detection_score = _finite(score) if score_type in _NUMBER_TYPES else None
        if detection_score is None or not 0.0 <= detection_score <= 1.0:
            self.problem("faces", row_id, "detection_score is not a number from 0 to 1")
        created_at = self.timestamp("faces", row_id, "created_at", created, created_type)
        if (
            self.problem_count > problems_before
            or not isinstance(identity_id, int)
            or identity_id not in identities  # a person refused above: their samples add no problem of their own
            or not isinstance(model, str)
            or not isinstance(crop, bytes)
            or points is None
            or box is None
            or detection_score is None
            or created_at is None
        ):
            return None
        x1, y1, x2, y2 = box[0]
        landmarks = tuple((x, y) for x, y in points)
        sample = ImportedFace(row_id, model, crop, landmarks, (x1, y1, x2, y2), detection_score, created_at, ())
        return _Face(identity_id, sample)

    def read_embeddings(
        self, db: sqlite3.Connection, faces: Mapping[int, _Face]
    ) -> tuple[dict[int, list[ImportedEmbedding]], int]:
        by_face: dict[int, list[ImportedEmbedding]] = {}
        dropped = 0
        cap = max(1, len(faces)) * MAX_EMBEDDINGS_PER_FACE
        rows = self.rows(
            db,
            """
            SELECT face_id, typeof(face_id), model_id, typeof(model_id), dim, typeof(dim), vector, typeof(vector),
                   created_at, typeof(created_at)
            FROM main.embeddings LIMIT ?
            """,
            (cap + 1,),
        )
        for count, row in enumerate(rows, 1):
            if count > cap:
                raise InvalidImport(f"The file holds more than {MAX_EMBEDDINGS_PER_FACE} embeddings per face sample.")
            face_id, face_type, model_id, model_type, dim, dim_type, vector, vector_type, created, created_type = row
            known_dim = self.known_models.get(model_id) if model_type == "text" and isinstance(model_id, str) else None
            if known_dim is None or dim_type != "integer" or dim != known_dim:
                dropped += 1  # a model this server does not run: the crop is embedded again instead
                continue
            assert isinstance(model_id, str)
            if face_type != "integer" or not isinstance(face_id, int) or face_id not in self.face_ids_seen:
                self.problem("embeddings", None, f"a {model_id} embedding belongs to no face sample of the file")
                continue
            unit = _unit_vector(vector, known_dim) if vector_type == "blob" and isinstance(vector, bytes) else None
            if unit is None:
                self.problem(
                    "embeddings",
                    None,
                    f"the {model_id} vector of face {face_id} is not {known_dim} finite float32 values, not all zero",
                )
                continue
            created_at = self.timestamp("embeddings", None, f"created_at of face {face_id}", created, created_type)
            if created_at is None or face_id not in faces:
                continue
            existing = by_face.setdefault(face_id, [])
            if any(e.model_id == model_id for e in existing):
                self.problem("embeddings", None, f"face {face_id} has two {model_id} embeddings")
                continue
            existing.append(ImportedEmbedding(model_id, unit, created_at))
        return by_face, dropped

    def assemble(
        self,
        identities: Mapping[int, _Identity],
        faces: Mapping[int, _Face],
        embeddings: Mapping[int, list[ImportedEmbedding]],
    ) -> tuple[ImportedIdentity, ...]:
        """People of the file whose names share a key become one person, with all their samples."""
        groups: dict[str, list[_Identity]] = {}
        for identity in sorted(identities.values(), key=lambda i: i.file_id):
            groups.setdefault(identity.key, []).append(identity)
        faces_by_identity: dict[int, list[_Face]] = {}
        for face in sorted(faces.values(), key=lambda f: f.file_id):
            faces_by_identity.setdefault(face.identity_id, []).append(face)
        result = []
        for key, members in groups.items():
            member_faces = sorted(
                (face for member in members for face in faces_by_identity.get(member.file_id, [])),
                key=lambda f: f.file_id,
            )
            result.append(
                ImportedIdentity(
                    name=members[0].name,
                    key=key,
                    created_at=min(m.created_at for m in members),
                    updated_at=max(m.updated_at for m in members),
                    faces=tuple(
                        dataclasses.replace(face.sample, embeddings=tuple(embeddings.get(face.file_id, ())))
                        for face in member_faces
                    ),
                )
            )
        return tuple(result)


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


_JSON = json.JSONDecoder(parse_constant=_refuse_constant)  # NaN and Infinity are not numbers
_JSON_NUMBERS = (int, float)  # exact types: a JSON true is not a coordinate


def _points(text: object, kind: object, count: int, size: int) -> list[tuple[float, ...]] | None:
    """``count`` points of ``size`` finite coordinates from JSON (a flat list when ``count`` is 1)."""
    if kind != "text" or not isinstance(text, str) or len(text) > MAX_JSON_CHARS:
        return None
    try:
        value = _JSON.decode(text)
    except (ValueError, RecursionError):
        return None
    rows = [value] if count == 1 else value
    if type(rows) is not list or len(rows) != count:
        return None
    points: list[tuple[float, ...]] = []
    for row in rows:
        if type(row) is not list or len(row) != size or any(type(v) not in _JSON_NUMBERS for v in row):
            return None
        try:
            numbers = tuple(float(v) for v in row)
        except OverflowError:  # an integer beyond float
            return None
        if not all(abs(n) <= MAX_COORDINATE for n in numbers):  # False for NaN and infinities too
            return None
        points.append(numbers)
    return points


def _crop_problem(data: bytes) -> str | None:
    """What is wrong with a stored face crop, or None for a JPEG that decodes."""
    if not data:
        return "is empty"
    if len(data) > MAX_CROP_BYTES:
        return f"is larger than {MAX_CROP_BYTES // 1024} KB"
    if not data.startswith(b"\xff\xd8\xff"):
        return "is not a JPEG image"
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            width, height = image.size
            if not (1 <= width <= MAX_CROP_SIDE and 1 <= height <= MAX_CROP_SIDE):
                return f"is {width}x{height} pixels, not a face crop (at most {MAX_CROP_SIDE} a side)"
            image.draft(None, (max(1, width // 8), max(1, height // 8)))  # decode at 1/8 scale: fast
            image.load()
    except _PILLOW_ERRORS:
        return "is not a JPEG image that decodes"
    return None


def _unit_vector(blob: bytes, dim: int) -> np.ndarray | None:
    """The vector at unit length, or None when it has the wrong size, a non-finite value or is zero."""
    if len(blob) != 4 * dim:
        return None
    vector = np.frombuffer(blob, dtype="<f4").astype(np.float64)
    if not np.isfinite(vector).all():
        return None
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm < 1e-6:
        return None
    unit = (vector / norm).astype(np.float32)
    return unit if np.isfinite(unit).all() else None
