"""Backups, a damaged database at start-up, and moving the whole gallery to another machine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.reliability.conftest import Server
from tests.support import FACES_DIR, PEOPLE


def teach(server: Server, name: str, number: int = 1) -> int:
    image = (FACES_DIR / "people" / name / f"{name}{number}.png").read_bytes()
    status, body = server.request("POST", f"/v1/database/add?name={name}", image, {"Content-Type": "image/png"})
    assert status == 201, body
    face_id: int = body["face_id"]
    return face_id


def recognise(server: Server, name: str, number: int) -> str | None:
    image = (FACES_DIR / "people" / name / f"{name}{number}.png").read_bytes()
    _, body = server.request("POST", "/v1/recognize", image, {"Content-Type": "image/png"})
    found: str | None = body["faces"][0]["name"]
    return found


def damage(db_file: Path) -> None:
    with sqlite3.connect(db_file) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'faces_by_identity'").fetchone()[0]
    data = bytearray(db_file.read_bytes())
    data[4096 * (page - 1) : 4096 * (page - 1) + 8] = b"\x07" * 8
    db_file.write_bytes(bytes(data))


def test_a_damaged_database_is_set_aside_and_the_latest_backup_restored(servers: list[Server], tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Server(data)
    servers.append(first)
    first.wait_ready()
    for name in PEOPLE[:3]:
        teach(first, name)
    first.stop()
    second = Server(data)  # its start backs up the gallery with the three people
    servers.append(second)
    second.wait_ready()
    teach(second, "stuart")  # after the backup: this one is lost with the damaged file
    second.stop()
    damage(data / "faces.db")

    third = Server(data)
    servers.append(third)
    third.wait_ready()
    log = third.log.read_text()
    assert "Database integrity check FAILED" in log
    assert "restored the backup" in log
    assert len(list(data.glob("faces.db.damaged-*"))) == 1
    _, listing = third.request("GET", "/v1/database/list")
    assert sorted(i["name"] for i in listing["identities"]) == sorted(PEOPLE[:3])
    assert recognise(third, PEOPLE[1], 2) == PEOPLE[1]


def test_a_damaged_database_without_backups_starts_empty_and_says_so(servers: list[Server], tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Server(data, "--set", "database.backup_enabled=false")
    servers.append(first)
    first.wait_ready()
    for name in PEOPLE:
        teach(first, name)
    first.stop()
    damage(data / "faces.db")
    second = Server(data, "--set", "database.backup_enabled=false")
    servers.append(second)
    second.wait_ready()
    assert "no good backup: starting with an empty gallery" in second.log.read_text()
    assert second.request("GET", "/health")[1]["identities"] == 0
    assert list(data.glob("faces.db.damaged-*"))


def test_the_gallery_moves_to_another_machine_in_one_file(servers: list[Server], tmp_path: Path) -> None:
    old = Server(tmp_path / "old")
    servers.append(old)
    old.wait_ready()
    for name in PEOPLE:
        teach(old, name)
    teach(old, "amy", 2)
    status, exported = old.request("GET", "/v1/database/export")
    assert status == 200
    assert exported.startswith(b"SQLite format 3\x00")

    new = Server(tmp_path / "new")
    servers.append(new)
    new.wait_ready()
    teach(new, "raj")
    status, summary = new.request("POST", "/v1/database/import", exported, {"Content-Type": "application/vnd.sqlite3"})
    assert status == 200
    assert summary == {"mode": "merge", "identities_created": 7, "faces": 9, "embeddings": 9, "embeddings_dropped": 0}
    _, listing = new.request("GET", "/v1/database/list")
    counts = {i["name"]: i["faces"] for i in listing["identities"]}
    assert counts["amy"] == 2 and counts["raj"] == 2 and len(counts) == 8
    assert recognise(new, "howard", 3) == "howard"
    crop = listing["identities"][0]["samples"][0]["id"]
    assert new.request("GET", f"/v1/database/{listing['identities'][0]['name']}/faces/{crop}/image")[0] == 200

    status, summary = new.request(
        "POST", "/v1/database/import?mode=replace", exported, {"Content-Type": "application/octet-stream"}
    )
    assert (status, summary["mode"]) == (200, "replace")
    _, listing = new.request("GET", "/v1/database/list")
    assert {i["name"]: i["faces"] for i in listing["identities"]}["raj"] == 1


def test_a_bad_import_changes_nothing(servers: list[Server], tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    servers.append(server)
    server.wait_ready()
    teach(server, "penny")
    for body in (b"", b"not a database", b"SQLite format 3\x00" + b"\x00" * 200):
        status, answer = server.request(
            "POST", "/v1/database/import", body, {"Content-Type": "application/octet-stream"}
        )
        assert (status, answer["error"]["code"]) == (400, "invalid_import")
    status, answer = server.request("POST", "/v1/database/import", b"x", {"Content-Type": "text/plain"})
    assert (status, answer["error"]["code"]) == (415, "unsupported_media_type")
    _, listing = server.request("GET", "/v1/database/list")
    assert [i["name"] for i in listing["identities"]] == ["penny"]
