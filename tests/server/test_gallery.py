"""The SQLite gallery: schema, transactions, the index kept in step, other models, backups."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from hailo_face_server.errors import InvalidName, InvalidRequest, NameTaken, NotFound
from hailo_face_server.gallery import Gallery
from hailo_face_server.gallery.maintenance import backup_database, integrity_problems, list_backups
from hailo_face_server.gallery.store import SCHEMA_VERSION, GalleryStore, NewFace
from hailo_face_server.matching import SimilarityCalibration
from hailo_face_server.sqlite_file import SchemaTooNew

CALIBRATION = SimilarityCalibration(centre=0.5, width=0.05)
MODEL = "test_model"


def vector(seed: int, dim: int = 16) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return values / np.linalg.norm(values)


def sample(seed: int, model: str = MODEL, dim: int = 16) -> NewFace:
    return NewFace(
        model_id=model,
        embedding=vector(seed, dim),
        crop_jpeg=b"\xff\xd8jpeg",
        landmarks=[[1.0, 2.0]] * 5,
        bbox=[0.0, 0.0, 10.0, 10.0],
        detection_score=0.9,
    )


@pytest.fixture
def gallery(tmp_path: Path) -> Gallery:
    return Gallery.open(tmp_path / "faces.db", MODEL, 16, CALIBRATION)


def test_a_new_database_has_the_current_schema_in_wal_mode(gallery: Gallery, tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "faces.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    columns = {row[1] for row in db.execute("PRAGMA table_info(faces)")}
    assert {"source_model", "crop_jpeg", "landmarks", "bbox", "created_at"} <= columns
    columns = {row[1] for row in db.execute("PRAGMA table_info(embeddings)")}
    assert {"face_id", "model_id", "dim", "vector"} <= columns


def test_a_database_from_a_newer_server_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "faces.db"
    GalleryStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="restore an older backup"):
        GalleryStore(path)


def test_add_match_rename_delete(gallery: Gallery) -> None:
    added = gallery.add("Alice", sample(1))
    assert added.created_identity and added.identity.face_count == 1
    gallery.add("bob", sample(2))
    again = gallery.add("ALICE", sample(3))
    assert not again.created_identity and again.identity.name == "Alice" and again.identity.face_count == 2
    (match,) = gallery.match(vector(3)[None], 0.5)
    assert (match.name, match.identity_id) == ("Alice", added.identity.id)
    assert match.similarity == pytest.approx(1.0, abs=1e-5)

    gallery.rename("alice", "Alicia")
    assert gallery.match(vector(3)[None], 0.5)[0].name == "Alicia"
    with pytest.raises(NameTaken):
        gallery.rename("Alicia", "Bob")

    gallery.delete_face("Alicia", again.face_id)
    assert gallery.match(vector(3)[None], 0.5)[0].name is None
    with pytest.raises(NotFound):
        gallery.delete_face("Alicia", again.face_id)
    gallery.delete_identity("alicia")
    assert [d.record.name for d in gallery.identities()] == ["bob"]
    with pytest.raises(NotFound):
        gallery.delete_identity("Alicia")


def test_a_forgotten_persons_id_is_never_given_again(gallery: Gallery) -> None:
    """Clients key people by id (Home Assistant's person devices): the next one taught is someone new."""
    gallery.add("amy", sample(1))
    bob = gallery.add("bob", sample(2)).identity.id  # the newest: SQLite alone would give his id again
    gallery.delete_identity("bob")
    carol = gallery.add("carol", sample(3)).identity.id
    assert carol > bob
    gallery.delete_identity("carol")
    assert gallery.add("dave", sample(4)).identity.id > carol


def test_a_failed_write_leaves_nothing_behind(gallery: Gallery) -> None:
    # A NULL model id violates NOT NULL on the sample, after the identity row was inserted.
    broken = NewFace(None, vector(1), b"", [[0.0, 0.0]] * 5, [0, 0, 1, 1], 0.9)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        gallery.store.add_face("carol", broken)
    assert gallery.identities() == []
    assert gallery.index.sample_count == 0


def test_wrong_models_and_names_are_refused(gallery: Gallery) -> None:
    with pytest.raises(InvalidRequest):
        gallery.add("dave", sample(1, model="other"))
    with pytest.raises(InvalidRequest):
        gallery.add("dave", sample(1, dim=8))
    with pytest.raises(InvalidName):
        gallery.add("unknown", sample(1))
    assert gallery.identities() == []


def test_the_index_is_rebuilt_from_the_database_on_open(tmp_path: Path) -> None:
    path = tmp_path / "faces.db"
    first = Gallery.open(path, MODEL, 16, CALIBRATION)
    ids = [first.add(name, sample(seed)).face_id for seed, name in enumerate(["a", "b", "c"])]
    first.delete_face("b", ids[1])
    first.close()
    second = Gallery.open(path, MODEL, 16, CALIBRATION)
    assert sorted(second.index.face_ids().tolist()) == [ids[0], ids[2]]
    assert second.match(vector(2)[None], 0.5)[0].name == "c"


def test_samples_of_another_model_are_never_compared_but_counted(tmp_path: Path) -> None:
    path = tmp_path / "faces.db"
    old = Gallery.open(path, "old_model", 16, CALIBRATION)
    old.add("erin", sample(5, model="old_model"))
    old.close()
    new = Gallery.open(path, MODEL, 16, CALIBRATION)
    assert new.match(vector(5)[None], 0.0)[0].name is None
    stats = new.stats()
    assert (stats.identities, stats.faces, stats.faces_pending) == (1, 0, 1)
    (erin,) = new.identities()
    assert erin.faces[0].source_model == "old_model"
    assert erin.faces[0].models == ("old_model",)
    (pending,) = new.pending_crops()
    new.add_embedding(pending, vector(6))
    assert new.match(vector(6)[None], 0.5)[0].name == "erin"
    assert new.stats().faces_pending == 0
    assert new.identities()[0].faces[0].models == ("old_model", MODEL)


def test_deleting_an_identity_cascades_to_its_faces(gallery: Gallery, tmp_path: Path) -> None:
    gallery.add("frank", sample(1))
    gallery.add("frank", sample(2))
    gallery.delete_identity("frank")
    db = sqlite3.connect(tmp_path / "faces.db")
    assert db.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == 0


def test_backups_rotate_and_are_complete(gallery: Gallery, tmp_path: Path) -> None:
    gallery.add("gina", sample(1))
    for _ in range(4):
        backup_database(tmp_path / "faces.db", tmp_path / "backups", keep=3)
    backups = list_backups(tmp_path / "backups")
    assert len(backups) == 3
    restored = Gallery.open(backups[-1], MODEL, 16, CALIBRATION)
    assert restored.match(vector(1)[None], 0.5)[0].name == "gina"
    assert integrity_problems(backups[-1]) == []


def test_integrity_check_reports_damage(tmp_path: Path) -> None:
    path = tmp_path / "faces.db"
    gallery = Gallery.open(path, MODEL, 16, CALIBRATION)
    for seed in range(200):
        gallery.add(f"person{seed}", sample(seed))
    gallery.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page_size = 4096
    data[page_size * 4 : page_size * 4 + 8] = b"\x07" * 8  # an invalid b-tree page header
    path.write_bytes(bytes(data))
    assert integrity_problems(path)


async def test_a_damaged_database_is_reported_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cpu_backend: object
) -> None:
    from hailo_face_server.backends import BackendChoice
    from hailo_face_server.service import FaceService
    from tests.support import SharedBackend, make_config

    path = tmp_path / "faces.db"
    store = GalleryStore(path)
    for seed in range(300):
        store.add_face(f"person{seed}", sample(seed, model="dlib_resnet_v1", dim=128))
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        index_page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'faces_by_identity'").fetchone()[0]
    data = bytearray(path.read_bytes())
    start = 4096 * (index_page - 1)
    data[start : start + 8] = b"\x07" * 8  # an invalid b-tree page header
    path.write_bytes(bytes(data))

    shared = SharedBackend(cpu_backend)  # type: ignore[arg-type]
    service = FaceService(make_config(tmp_path), backend_factory=lambda _config: BackendChoice(shared))
    with contextlib.suppress(Exception):  # a damaged file may also fail to open; the log line is what matters
        await service.start()
    await service.stop()
    assert "Database integrity check FAILED" in caplog.text
    assert "no good backup: starting with an empty gallery" in caplog.text
    assert any(name.startswith("faces.db.damaged-") for name in os.listdir(tmp_path))
