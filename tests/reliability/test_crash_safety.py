"""Power cuts: SIGKILL while teaching, many times; every acknowledged face survives, nothing is half-written."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import urllib.error
from pathlib import Path

from tests.reliability.conftest import Server
from tests.support import FACES_DIR, PEOPLE

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "6"))


def teach_until_killed(server: Server, acknowledged: list[int], stop: threading.Event) -> None:
    images = [(name, (FACES_DIR / "people" / name / f"{name}1.png").read_bytes()) for name in PEOPLE[:4]]
    while not stop.is_set():
        name, image = random.choice(images)
        try:
            status, body = server.request("POST", f"/v1/database/add?name={name}", image, {"Content-Type": "image/png"})
        except (OSError, urllib.error.URLError, ValueError):
            return  # the server is gone; this teach was never acknowledged
        if status == 201:
            acknowledged.append(body["face_id"])


def database_rows(db_file: Path) -> tuple[set[int], set[int], int, int]:
    with sqlite3.connect(db_file) as db:
        faces = {row[0] for row in db.execute("SELECT id FROM faces")}
        embedded = {row[0] for row in db.execute("SELECT face_id FROM embeddings")}
        orphans = db.execute(
            "SELECT COUNT(*) FROM faces f LEFT JOIN identities i ON i.id = f.identity_id WHERE i.id IS NULL"
        ).fetchone()[0]
        empty_people = db.execute(
            "SELECT COUNT(*) FROM identities i WHERE NOT EXISTS (SELECT 1 FROM faces f WHERE f.identity_id = i.id)"
        ).fetchone()[0]
    return faces, embedded, orphans, empty_people


def test_sigkill_at_random_moments_loses_no_acknowledged_face(servers: list[Server], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = None
    acknowledged: list[int] = []
    for _ in range(ROUNDS):
        server = Server(data_dir, "--set", "database.backup_enabled=false", port=port)
        servers.append(server)
        port = server.port
        server.wait_ready()
        stop = threading.Event()
        teacher = threading.Thread(target=teach_until_killed, args=(server, acknowledged, stop))
        teacher.start()
        time.sleep(random.uniform(0.3, 2.0))
        server.kill()
        stop.set()
        teacher.join(30)

    server = Server(data_dir, port=port)
    servers.append(server)
    server.wait_ready()
    faces, embedded, orphans, empty_people = database_rows(data_dir / "faces.db")
    assert acknowledged, "no teach finished between the kills"
    assert set(acknowledged) <= faces  # every 201 is there
    assert faces == embedded  # no sample without its embedding
    assert (orphans, empty_people) == (0, 0)  # no half-written person or sample
    _, health = server.request("GET", "/health")
    assert health["faces"] == len(faces) == health["index_samples"]  # the index holds what the database holds
    _, listing = server.request("GET", "/v1/database/list")
    assert {s["id"] for i in listing["identities"] for s in i["samples"]} == faces
    for name in PEOPLE[:4]:
        if any(i["name"] == name for i in listing["identities"]):
            image = (FACES_DIR / "people" / name / f"{name}2.png").read_bytes()
            _, result = server.request("POST", "/v1/recognize", image, {"Content-Type": "image/png"})
            assert result["faces"][0]["name"] == name
