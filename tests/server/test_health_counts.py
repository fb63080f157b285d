"""/health counts without the database thread, and exports stream from a copy."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from hailo_face_server.api.keys import SERVICE
from tests.server.conftest import AppFactory
from tests.support import Faces, image_json

Client = TestClient[web.Request, web.Application]


async def test_health_answers_while_the_database_thread_is_busy(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    for name in ("amy", "raj"):
        assert (await client.post("/v1/database/add", json=image_json(faces.person(name, 1), name=name))).status == 201
    service = client.server.app[SERVICE]
    release = threading.Event()
    busy = asyncio.ensure_future(service._database.run(release.wait, 60))
    try:
        # A long export, a slow import or a large list holds the database thread; /health must not wait for it.
        health = await asyncio.wait_for(client.get("/health"), timeout=10)
        body = await health.json()
        assert (body["status"], body["identities"], body["faces"], body["faces_pending"]) == ("ok", 2, 2, 0)
        assert body["index_samples"] == body["faces"]
    finally:
        release.set()
        await busy


async def test_counts_follow_every_change(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()

    async def counts() -> tuple[int, int]:
        body = await (await client.get("/health")).json()
        return body["identities"], body["faces"]

    assert await counts() == (0, 0)
    added = await (await client.post("/v1/database/add", json=image_json(faces.person("amy", 1), name="amy"))).json()
    await client.post("/v1/database/add", json=image_json(faces.person("amy", 2), name="amy"))
    await client.post("/v1/database/add", json=image_json(faces.person("raj", 1), name="raj"))
    assert await counts() == (2, 3)
    assert (await client.delete(f"/v1/database/amy/faces/{added['face_id']}")).status == 200
    assert await counts() == (2, 2)
    assert (await client.delete("/v1/database/raj")).status == 200
    assert await counts() == (1, 1)


async def test_an_export_is_streamed_from_a_consistent_copy(
    start_app: AppFactory, faces: Faces, tmp_path: Path
) -> None:
    client = await start_app(tmp_path / "data")
    await client.post("/v1/database/add", json=image_json(faces.person("amy", 1), name="amy"))
    response = await client.get("/v1/database/export")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/vnd.sqlite3"
    body = await response.read()
    assert int(response.headers["Content-Length"]) == len(body)
    exported = tmp_path / "exported.db"
    exported.write_bytes(body)
    with sqlite3.connect(exported) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT name FROM identities").fetchall() == [("amy",)]
