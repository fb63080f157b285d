"""A gallery file from a client is checked whole before anything of it is stored.

Each test starts from a real export (real JPEG crops of the test photographs,
random unit vectors of the CPU model) and makes it hostile with sqlite3, the
way an attacker would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hailo_face_server.api.models import IdentityWithSamples
from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.errors import InvalidImport, NotFound
from hailo_face_server.gallery import Gallery
from hailo_face_server.gallery.importing import KNOWN_MODELS, validate_import
from hailo_face_server.gallery.limits import GalleryFull, GalleryLimits, TooManySamples
from hailo_face_server.gallery.maintenance import backup_database, list_backups
from hailo_face_server.gallery.store import SCHEMA_VERSION, NewFace
from hailo_face_server.imaging import decode_image, face_crop_jpeg
from hailo_face_server.matching import SimilarityCalibration
from hailo_face_server.sqlite_file import SchemaTooNew
from tests.server.conftest import AppFactory
from tests.support import Faces, SharedBackend, make_config, wait_until

Client = TestClient[web.Request, web.Application]

MODEL = "dlib_resnet_v1"
DIM = KNOWN_MODELS[MODEL]
CALIBRATION = SimilarityCalibration(centre=0.5, width=0.05)
PEOPLE = ("amy", "bernadette", "howard")


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return values / np.linalg.norm(values)


@pytest.fixture(scope="module")
def crops(faces: Faces) -> dict[str, bytes]:
    result = {}
    for name in (*PEOPLE, "penny"):
        frame = decode_image(faces.person(name, 1).read_bytes(), 10**8).frame
        result[name] = face_crop_jpeg(frame, [20.0, 20.0, 130.0, 130.0])
    return result


def sample(crop: bytes, seed: int) -> NewFace:
    return NewFace(
        model_id=MODEL,
        embedding=unit(seed),
        crop_jpeg=crop,
        landmarks=[[50.0, 60.0], [100.0, 60.0], [75.0, 85.0], [55.0, 110.0], [95.0, 110.0]],
        bbox=[20.0, 20.0, 130.0, 130.0],
        detection_score=0.97,
    )


@pytest.fixture
def export(tmp_path: Path, crops: dict[str, bytes]) -> Path:
    """A real export: amy (2 samples), bernadette and howard; vectors unit(1), unit(2), unit(3), unit(4)."""
    source = Gallery.open(tmp_path / "source" / "faces.db", MODEL, DIM, CALIBRATION)
    for seed, name in enumerate(PEOPLE, 1):
        source.add(name, sample(crops[name], seed))
    source.add("amy", sample(crops["amy"], 4))
    target = tmp_path / "upload" / "incoming.db"
    target.parent.mkdir()
    source.export_to(target)
    source.close()
    return target


@pytest.fixture
def gallery(tmp_path: Path, crops: dict[str, bytes]) -> Iterator[Gallery]:
    """The live gallery: penny, one sample, vector unit(100)."""
    live = Gallery.open(tmp_path / "live" / "faces.db", MODEL, DIM, CALIBRATION)
    live.add("penny", sample(crops["penny"], 100))
    yield live
    live.close()


def tamper(path: Path, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
    """Change a gallery file the way an attacker would: straight SQL, no foreign keys, no checks."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA ignore_check_constraints = ON")
        for statement in statements:
            sql, parameters = (statement, ()) if isinstance(statement, str) else statement
            db.execute(sql, parameters)


def unchanged(gallery: Gallery) -> None:
    assert [d.record.name for d in gallery.identities()] == ["penny"]
    stats = gallery.stats()
    assert (stats.identities, stats.faces, stats.faces_pending) == (1, 1, 0)
    assert gallery.index.sample_count == 1


def refused(gallery: Gallery, upload: Path, *fragments: str, replace: bool = False) -> str:
    with pytest.raises(InvalidImport) as caught:
        gallery.import_from(upload, replace=replace)
    message = caught.value.message
    for fragment in fragments:
        assert fragment in message, message
    unchanged(gallery)
    return message


AMY = "(SELECT id FROM identities WHERE name = 'amy')"
AMY_FACE = f"(SELECT min(id) FROM faces WHERE identity_id = {AMY})"


# A good export arrives whole


def test_a_real_export_is_imported_whole(gallery: Gallery, export: Path) -> None:
    summary = gallery.import_from(export, replace=False)
    assert (summary.identities_created, summary.faces, summary.embeddings) == (3, 4, 4)
    assert summary.embeddings_dropped == 0
    assert {d.record.name: len(d.faces) for d in gallery.identities()} == {
        "amy": 2,
        "bernadette": 1,
        "howard": 1,
        "penny": 1,
    }
    (match,) = gallery.match(unit(4)[None], 0.5)
    assert match.name == "amy"
    assert match.similarity == pytest.approx(1.0, abs=1e-5)
    assert gallery.stats().faces == gallery.index.sample_count == 5


# 1. Wrong types are refused before anything is written


def test_text_where_the_embedding_belongs_is_refused(gallery: Gallery, export: Path) -> None:
    tamper(export, (f"UPDATE embeddings SET vector = ? WHERE face_id = {AMY_FACE}", ("x" * 4 * DIM,)))
    refused(gallery, export, "embeddings", "vector")


def test_a_time_that_is_not_a_number_is_refused(gallery: Gallery, export: Path) -> None:
    tamper(export, f"UPDATE identities SET created_at = 'yesterday' WHERE id = {AMY}")
    message = refused(gallery, export, "identities row", "created_at")
    assert "1 problem" in message


@pytest.mark.parametrize("value", ["'later'", "1e300", "9e999", "-5"])
def test_implausible_sample_times_are_refused(gallery: Gallery, export: Path, value: str) -> None:
    tamper(export, f"UPDATE faces SET created_at = {value} WHERE id = {AMY_FACE}")
    refused(gallery, export, "faces row", "created_at")


@pytest.mark.parametrize(
    ("crop", "what"),
    [
        ("'<html><script>alert(1)</script></html>'", "is not a blob"),
        ("CAST('<html><script>alert(1)</script></html>' AS BLOB)", "is not a JPEG"),
        ("X''", "is empty"),
        ("substr(crop_jpeg, 1, 600)", "that decodes"),  # a truncated JPEG
        ("X'FFD8FFE000104A464946'", "that decodes"),  # a JPEG header and nothing else
    ],
)
def test_crops_must_be_jpeg_images_that_decode(gallery: Gallery, export: Path, crop: str, what: str) -> None:
    tamper(export, f"UPDATE faces SET crop_jpeg = {crop} WHERE id = {AMY_FACE}")
    refused(gallery, export, "crop_jpeg", what)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("landmarks", "'[[1, 2], [3, 4]]'"),
        ("landmarks", "'[[1, 2], [3, 4], [5, 6], [7, 8], [NaN, 1]]'"),
        ("landmarks", "'not json'"),
        ("landmarks", "'[[1, 2, 3], [3, 4, 5], [5, 6, 7], [7, 8, 9], [9, 10, 11]]'"),
        ("bbox", "'[0, 0, 10]'"),
        ("bbox", "'[0, 0, 10, Infinity]'"),
        ("bbox", "'[0, 0, 10, 1e400]'"),
        ("bbox", "'{\"x\": 1}'"),
        ("bbox", "X'5B302C20302C2031302C2031305D'"),  # the right JSON, as a blob
        ("detection_score", "1.5"),
        ("detection_score", "'high'"),
        ("detection_score", "-0.1"),
    ],
)
def test_boxes_landmarks_and_scores_must_have_their_shape(
    gallery: Gallery, export: Path, column: str, value: str
) -> None:
    tamper(export, f"UPDATE faces SET {column} = {value} WHERE id = {AMY_FACE}")
    refused(gallery, export, "faces row", column)


def test_the_message_lists_a_few_problems_and_counts_the_rest(gallery: Gallery, export: Path) -> None:
    tamper(
        export,
        "UPDATE faces SET detection_score = 7, bbox = '[]', landmarks = '[]'",
        "UPDATE identities SET updated_at = 'soon'",
    )
    message = refused(gallery, export, "15 problems", "and 10 more")
    assert message.count("row") == 5


def test_rows_pointing_nowhere_are_refused(gallery: Gallery, export: Path) -> None:
    tamper(export, f"UPDATE faces SET identity_id = 999 WHERE id = {AMY_FACE}")
    refused(gallery, export, "identity_id")


# 2. Import bypassed what matching assumes


def test_vectors_are_made_unit_length(gallery: Gallery, export: Path) -> None:
    tamper(export, (f"UPDATE embeddings SET vector = ? WHERE face_id = {AMY_FACE}", ((unit(1) * 1000).tobytes(),)))
    gallery.import_from(export, replace=False)
    stranger = unit(12345)
    for match in gallery.match(np.stack([stranger, unit(1)]), 0.0):
        assert match.similarity <= 1.0 + 1e-5
    (stranger_match,) = gallery.match(stranger[None], 0.5)
    assert stranger_match.name is None and stranger_match.confidence < 0.5
    assert gallery.match(unit(1)[None], 0.5)[0].similarity == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("bad", [np.full(DIM, np.nan, np.float32), np.zeros(DIM, np.float32)], ids=["nan", "zero"])
def test_non_finite_and_zero_vectors_are_refused(gallery: Gallery, export: Path, bad: np.ndarray) -> None:
    bad_vector = unit(1)
    bad_vector[: len(bad)] = bad
    tamper(export, (f"UPDATE embeddings SET vector = ? WHERE face_id = {AMY_FACE}", (bad_vector.tobytes(),)))
    refused(gallery, export, "embeddings", "finite")


def test_embeddings_of_unknown_models_and_dimensions_are_dropped_and_their_crops_embedded_again(
    gallery: Gallery, export: Path
) -> None:
    tamper(
        export,
        (f"UPDATE embeddings SET dim = 64, vector = ? WHERE face_id = {AMY_FACE}", (unit(7, 64).tobytes(),)),
        (
            "INSERT INTO embeddings (face_id, model_id, dim, vector, created_at) "
            "SELECT id, 'evil_model', 250, ?, 0 FROM faces",
            (np.ones(250, "<f4").tobytes(),),
        ),
    )
    summary = gallery.import_from(export, replace=False)
    assert (summary.faces, summary.embeddings, summary.embeddings_dropped) == (4, 3, 5)
    models = {row[0] for row in gallery.store._db.execute("SELECT DISTINCT model_id FROM embeddings")}
    assert models == {MODEL}
    stats = gallery.stats()
    assert stats.faces == gallery.index.sample_count == 4  # penny + 3 imported
    assert stats.faces_pending == 1
    (pending,) = gallery.pending_crops()
    assert pending.crop_jpeg.startswith(b"\xff\xd8")
    gallery.add_embedding(pending, unit(8))
    assert gallery.stats().faces == gallery.index.sample_count == 5


@pytest.mark.parametrize(
    "name",
    ["a/b", "line\nbreak", "esc\x1b[31mred", "x" * 10_000, "unknown", "UNKNOWN", "   ", "back\\slash"],
    ids=["slash", "newline", "escape", "long", "reserved", "reserved-upper", "blank", "backslash"],
)
def test_names_follow_the_api_rules(gallery: Gallery, export: Path, name: str) -> None:
    tamper(export, (f"UPDATE identities SET name = ? WHERE id = {AMY}", (name,)))
    message = refused(gallery, export, "identities row", "invalid name")
    assert message.isprintable() and len(message) < 1000


def test_a_name_that_is_not_utf8_is_refused(gallery: Gallery, export: Path) -> None:
    tamper(export, f"UPDATE identities SET name = CAST(X'FF41' AS TEXT) WHERE id = {AMY}")
    refused(gallery, export, "identities row", "UTF-8")


def test_name_keys_are_computed_again(gallery: Gallery, export: Path) -> None:
    # A stale (or forged) key would attach amy's samples to penny.
    tamper(export, f"UPDATE identities SET name_key = 'penny' WHERE id = {AMY}")
    gallery.import_from(export, replace=False)
    counts = {d.record.name: len(d.faces) for d in gallery.identities()}
    assert counts["penny"] == 1 and counts["amy"] == 2


def test_names_of_the_file_with_one_key_are_one_person(gallery: Gallery, export: Path) -> None:
    tamper(
        export,
        "UPDATE identities SET name = 'AMY', name_key = 'forged' WHERE name = 'bernadette'",
        "UPDATE identities SET name = 'Penny', name_key = 'other' WHERE name = 'howard'",
    )
    summary = gallery.import_from(export, replace=False)
    assert summary.identities_created == 1
    counts = {d.record.name: len(d.faces) for d in gallery.identities()}
    assert counts == {"amy": 3, "penny": 2}


def test_stats_count_with_sql_and_agree_with_the_index(
    gallery: Gallery, export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gallery.import_from(export, replace=False)

    def no_full_listing() -> None:
        raise AssertionError("stats() loaded every identity")

    monkeypatch.setattr(gallery.store, "identities", no_full_listing)
    stats = gallery.stats()
    assert (stats.identities, stats.faces, stats.faces_pending, stats.skipped) == (4, 5, 0, 0)
    assert stats.faces == gallery.index.sample_count


# 2b. A database that already holds bad rows still opens


def test_a_gallery_with_bad_rows_opens_skips_and_reports(
    tmp_path: Path, crops: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old" / "faces.db"
    old = Gallery.open(path, MODEL, DIM, CALIBRATION)
    ids = {name: old.add(name, sample(crops[PEOPLE[i % 3]], i + 1)).face_id for i, name in enumerate("abcdefgh")}
    old.close()
    nan = unit(2)
    nan[3] = np.nan
    tamper(
        path,
        (f"UPDATE embeddings SET vector = ? WHERE face_id = {ids['a']}", (nan.tobytes(),)),
        (f"UPDATE embeddings SET vector = ? WHERE face_id = {ids['b']}", (np.ones(1000, "<f4").tobytes(),)),
        (f"UPDATE embeddings SET dim = 64, vector = ? WHERE face_id = {ids['c']}", (unit(3, 64).tobytes(),)),
        (f"UPDATE embeddings SET vector = ? WHERE face_id = {ids['d']}", ("x" * 4 * DIM,)),
        (f"UPDATE embeddings SET vector = ? WHERE face_id = {ids['e']}", (np.zeros(DIM, "<f4").tobytes(),)),
        (f"UPDATE embeddings SET vector = ? WHERE face_id = {ids['f']}", ((unit(6) * 1000).tobytes(),)),
        "UPDATE identities SET created_at = 'yesterday', updated_at = 1e308 WHERE name = 'a'",
        (f"UPDATE faces SET crop_jpeg = 'not a blob', created_at = 'later' WHERE id = {ids['g']}", ()),
        f"UPDATE faces SET crop_jpeg = 'not a blob either' WHERE id = {ids['h']}",
        f"DELETE FROM embeddings WHERE face_id = {ids['h']}",
    )
    with caplog.at_level(logging.WARNING):
        reopened = Gallery.open(path, MODEL, DIM, CALIBRATION)
    assert "Left out 5 stored dlib_resnet_v1 embeddings" in caplog.text
    assert reopened.skipped_embeddings == 5
    stats = reopened.stats()
    assert (stats.identities, stats.faces, stats.faces_pending, stats.skipped) == (8, 2, 6, 5)
    assert stats.faces == reopened.index.sample_count
    # f's vector of length 1000 was made unit length: it matches itself, not everyone.
    assert reopened.match(unit(6)[None], 0.5)[0].name == "f"
    assert reopened.match(unit(999)[None], 0.0)[0].similarity < 0.5

    details = reopened.identities()
    listing = [IdentityWithSamples.of_details(d, MODEL, None).model_dump(mode="json") for d in details]
    json.dumps(listing, allow_nan=False)
    by_name = {entry["name"]: entry for entry in listing}
    assert by_name["a"]["created_at"] == "1970-01-01T00:00:00Z"
    assert all(isinstance(d.record.created_at, float) for d in details)
    assert [s["usable"] for s in by_name["a"]["samples"]] == [False]
    assert [s["usable"] for s in by_name["f"]["samples"]] == [True]
    with pytest.raises(NotFound):
        reopened.crop("g", ids["g"])

    pending = {p.face_id: p for p in reopened.pending_crops()}
    assert set(pending) == {ids[name] for name in "abcdeh"}
    assert pending[ids["h"]].crop_jpeg == b""  # fails to decode: counted as failed by the re-embedding
    reopened.add_embedding(pending[ids["a"]], unit(11))
    assert reopened.skipped_embeddings == 4
    assert reopened.match(unit(11)[None], 0.5)[0].name == "a"
    reopened.delete_identity("b")
    assert reopened.stats().skipped == 3
    assert reopened.stats().faces == reopened.index.sample_count == 3
    reopened.close()


# 3. A hostile file cannot freeze the server


def replace_with_view(path: Path, table: str, select: str) -> None:
    tamper(path, f"DROP TABLE {table}", f"CREATE VIEW {table} AS {select}")


SLOW_VIEW = """
    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000000)
    SELECT max(x) AS id, 'slow' AS name, 'slow' AS name_key, 0 AS created_at, 0 AS updated_at FROM n
"""
MANY_VIEW = """
    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000)
    SELECT x AS id, 'p' || x AS name, 'p' || x AS name_key, 1700000000 AS created_at, 1700000000 AS updated_at FROM n
"""


def test_a_slow_view_is_refused_at_once(gallery: Gallery, export: Path) -> None:
    replace_with_view(export, "identities", SLOW_VIEW)
    started = time.monotonic()
    with pytest.raises(InvalidImport, match="identities is a view, not a table"):
        validate_import(export, time_limit=5.0)
    refused(gallery, export, "view")
    assert time.monotonic() - started < 60


def test_a_view_of_300000_people_is_refused(gallery: Gallery, export: Path) -> None:
    replace_with_view(export, "identities", MANY_VIEW)
    started = time.monotonic()
    refused(gallery, export, "identities is a view")
    assert time.monotonic() - started < 60


def test_a_table_of_300000_people_is_refused_by_the_cap(gallery: Gallery, export: Path) -> None:
    tamper(
        export,
        """
        INSERT INTO identities (name, name_key, created_at, updated_at)
        WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000)
        SELECT 'p' || x, 'p' || x, 1700000000, 1700000000 FROM n
        """,
    )
    started = time.monotonic()
    refused(gallery, export, "more than 10000 people")
    assert time.monotonic() - started < 60
    with pytest.raises(InvalidImport, match="more than 2 face samples"):
        validate_import(export, max_identities=400_000, max_faces=2)


def test_virtual_tables_and_computed_columns_are_refused(gallery: Gallery, export: Path) -> None:
    tamper(export, "DROP TABLE embeddings", "CREATE VIRTUAL TABLE embeddings USING fts5(face_id, model_id)")
    refused(gallery, export, "embeddings is a virtual table")


def test_computed_columns_are_refused(gallery: Gallery, export: Path) -> None:
    tamper(
        export,
        "ALTER TABLE identities RENAME TO old_identities",
        """
        CREATE TABLE identities (id INTEGER PRIMARY KEY, name TEXT, name_key TEXT, created_at REAL,
                                 updated_at REAL AS (created_at + length(zeroblob(100000000))))
        """,
        "INSERT INTO identities (id, name, name_key, created_at) SELECT id, name, name_key, created_at "
        "FROM old_identities",
        "DROP TABLE old_identities",
    )
    refused(gallery, export, "identities has computed columns")


def test_a_missing_table_or_column_is_refused(gallery: Gallery, export: Path) -> None:
    tamper(export, "DROP TABLE embeddings")
    refused(gallery, export, "no embeddings table")
    tamper(export, "ALTER TABLE faces DROP COLUMN bbox")
    refused(gallery, export, "faces has no column bbox")


def test_the_time_limit_interrupts_sqlite(gallery: Gallery, export: Path) -> None:
    # 40 MB in a table of no interest: the integrity check alone takes longer than the limit.
    tamper(
        export,
        "CREATE TABLE padding (x BLOB)",
        """
        INSERT INTO padding WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000)
        SELECT randomblob(1000) FROM n
        """,
        "CREATE INDEX padding_x ON padding(x)",
    )
    started = time.monotonic()
    assert validate_import(export).face_count == 4
    full_time = time.monotonic() - started
    hurried = Gallery(gallery.store, MODEL, DIM, CALIBRATION, GalleryLimits(import_time_limit=0.01))
    started = time.monotonic()
    refused(hurried, export, "took longer than 0.01 s")
    assert time.monotonic() - started < max(full_time / 2, 0.05)
    with pytest.raises(InvalidImport, match="took longer than 0 s"):
        validate_import(export, time_limit=0.0)


def test_the_upload_is_only_read(gallery: Gallery, export: Path) -> None:
    tamper(export, "PRAGMA journal_mode = DELETE")  # a file a writer would switch to WAL
    before = hashlib.sha256(export.read_bytes()).hexdigest()
    gallery.import_from(export, replace=False)
    assert hashlib.sha256(export.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in export.parent.iterdir()) == ["incoming.db"]


def test_a_newer_schema_is_refused_without_naming_any_path(gallery: Gallery, export: Path, tmp_path: Path) -> None:
    tamper(export, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    message = refused(gallery, export, "newer version of Hailo Face", "Update this server")
    assert str(tmp_path) not in message and "incoming" not in message and "/" not in message


def test_a_file_without_a_schema_version_is_refused(gallery: Gallery, export: Path) -> None:
    tamper(export, "PRAGMA user_version = 0")
    refused(gallery, export, "no gallery schema version")


async def test_validation_runs_on_another_thread_and_the_gallery_writes_it(gallery: Gallery, export: Path) -> None:
    validated = await asyncio.to_thread(validate_import, export, known_models=gallery.known_models)
    assert (len(validated.identities), validated.face_count, validated.embedding_count) == (3, 4, 4)
    assert all(
        np.isclose(np.linalg.norm(e.vector), 1.0) for i in validated.identities for f in i.faces for e in f.embeddings
    )
    unchanged(gallery)  # validating touched nothing
    summary = gallery.import_validated(validated, replace=True)
    assert (summary.identities_created, summary.faces, summary.replaced) == (3, 4, True)
    assert sorted(d.record.name for d in gallery.identities()) == list(PEOPLE)
    assert gallery.stats().faces == gallery.index.sample_count == 4


# 4. Caps on samples per person and on the gallery's size


def test_a_person_has_at_most_max_samples_per_person(tmp_path: Path, crops: dict[str, bytes]) -> None:
    capped = Gallery.open(tmp_path / "faces.db", MODEL, DIM, CALIBRATION, GalleryLimits(max_samples_per_person=2))
    capped.add("amy", sample(crops["amy"], 1))
    capped.add("AMY", sample(crops["amy"], 2))
    with pytest.raises(TooManySamples) as caught:
        capped.add("amy", sample(crops["amy"], 3))
    assert caught.value.code == "too_many_samples"
    assert "max_samples_per_person" in caught.value.message and "Delete" in caught.value.message
    assert capped.stats().faces == 2
    capped.add("bernadette", sample(crops["bernadette"], 4))  # others still can


def test_the_gallery_has_at_most_max_gallery_mb(tmp_path: Path, crops: dict[str, bytes]) -> None:
    path = tmp_path / "faces.db"
    probe = Gallery.open(path, MODEL, DIM, CALIBRATION)
    empty = probe.store.size_bytes()
    probe.close()
    limit_mb = (empty + 3.5 * len(crops["amy"]) + 4096) / 2**20
    small = Gallery.open(path, MODEL, DIM, CALIBRATION, GalleryLimits(max_gallery_mb=limit_mb))

    def fill() -> None:
        for seed in range(20):
            small.add(f"person{seed}", sample(crops["amy"], seed))

    with pytest.raises(GalleryFull) as caught:
        fill()
    assert caught.value.code == "gallery_full"
    assert "max_gallery_mb" in caught.value.message and "Delete" in caught.value.message
    assert 1 <= small.stats().faces < 20


def test_imports_count_towards_the_caps(tmp_path: Path, export: Path, crops: dict[str, bytes]) -> None:
    capped = Gallery.open(tmp_path / "faces.db", MODEL, DIM, CALIBRATION, GalleryLimits(max_samples_per_person=3))
    capped.add("Amy", sample(crops["amy"], 50))
    capped.add("amy", sample(crops["amy"], 51))
    with pytest.raises(TooManySamples, match='give "Amy" 4 face samples'):
        capped.import_from(export, replace=False)
    assert capped.stats().faces == 2 and capped.stats().identities == 1
    assert capped.import_from(export, replace=True).faces == 4  # replacing: only the file's samples count

    size = capped.store.size_bytes()
    full = Gallery(capped.store, MODEL, DIM, CALIBRATION, GalleryLimits(max_gallery_mb=(size + 20_000) / 2**20))
    with pytest.raises(GalleryFull):
        full.import_from(export, replace=False)
    assert full.stats().faces == 4
    capped.close()


# Through the API


async def test_a_hostile_import_is_a_400_and_the_server_keeps_answering(
    client: Client, export: Path, tmp_path: Path
) -> None:
    tamper(
        export,
        (f"UPDATE embeddings SET vector = ? WHERE face_id = {AMY_FACE}", ("x" * 4 * DIM,)),
        "UPDATE identities SET created_at = 'yesterday'",
    )
    response = await client.post(
        "/v1/database/import",
        data=await asyncio.to_thread(export.read_bytes),
        headers={"Content-Type": "application/vnd.sqlite3"},
    )
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (400, "invalid_import"), body
    assert "identities row" in body["error"]["message"]
    assert (await client.get("/v1/database/list")).status == 200
    health = await (await client.get("/health")).json()
    assert health["identities"] == 0 and health["faces"] == health["index_samples"] == 0

    tamper(export, "UPDATE identities SET created_at = 1700000000", f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    response = await client.post(
        "/v1/database/import",
        data=await asyncio.to_thread(export.read_bytes),
        headers={"Content-Type": "application/octet-stream"},
    )
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (400, "invalid_import")
    assert "newer version" in body["error"]["message"] and "/" not in body["error"]["message"]


async def test_an_import_with_odd_vectors_keeps_recognition_sane(
    start_app: AppFactory, faces: Faces, export: Path, tmp_path: Path
) -> None:
    tamper(
        export,
        ("UPDATE embeddings SET vector = ?", ((unit(1) * 1000).tobytes(),)),
        (f"UPDATE embeddings SET dim = 64, vector = ? WHERE face_id = {AMY_FACE}", (unit(7, 64).tobytes(),)),
    )
    client = await start_app(tmp_path / "server")
    response = await client.post(
        "/v1/database/import",
        data=await asyncio.to_thread(export.read_bytes),
        headers={"Content-Type": "application/vnd.sqlite3"},
    )
    assert response.status == 200, await response.text()
    response = await client.post(
        "/v1/recognize", data=faces.person("sheldon", 1).read_bytes(), headers={"Content-Type": "image/png"}
    )
    assert response.status == 200
    (face,) = json.loads(await response.text(), parse_constant=lambda name: pytest.fail(f"{name} in the answer"))[
        "faces"
    ]
    assert face["similarity"] <= 1.0 and face["name"] is None

    async def reembedded() -> bool:
        health = await (await client.get("/health")).json()
        return "reembedding" in health and not health["reembedding"]["running"]

    await wait_until(reembedded, "the dropped embedding to be made again")
    health = await (await client.get("/health")).json()
    assert health["faces"] == health["index_samples"] == 4
    assert health["faces_pending"] == 0


# 5. Start-up backups


async def test_a_database_that_fails_to_open_never_rotates_good_backups_out(
    tmp_path: Path, crops: dict[str, bytes], cpu_backend: CpuBackend
) -> None:
    from hailo_face_server.backends import BackendChoice
    from hailo_face_server.service import FaceService

    data = tmp_path / "data"
    good = Gallery.open(data / "faces.db", MODEL, DIM, CALIBRATION)
    good.add("amy", sample(crops["amy"], 1))
    good.close()
    for _ in range(2):
        backup_database(data / "faces.db", data / "backups", keep=2)
    good_backups = list_backups(data / "backups")
    tamper(data / "faces.db", f"PRAGMA user_version = {SCHEMA_VERSION + 1}")  # passes the integrity check, won't open

    shared = SharedBackend(cpu_backend)
    for _ in range(3):  # a supervisor restarting the server again and again
        service = FaceService(
            make_config(data, database__backup_keep=2), backend_factory=lambda _config: BackendChoice(shared)
        )
        with pytest.raises(SchemaTooNew):
            await service.start()
        await service.stop()
    assert list_backups(data / "backups") == good_backups
    restored = Gallery.open(good_backups[-1], MODEL, DIM, CALIBRATION)
    assert [d.record.name for d in restored.identities()] == ["amy"]
    restored.close()
