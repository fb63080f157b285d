"""The bounded queue, concurrent requests, and the states before the server is ready."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from hailo_face_server.api.keys import SERVICE
from hailo_face_server.app import create_app
from hailo_face_server.backends.base import BackendChoice
from hailo_face_server.config import Config
from hailo_face_server.runtimes.dlib_descriptors import MAX_HELPERS
from hailo_face_server.service import FaceService
from hailo_face_server.unavailable import BackendUnavailable
from tests.server.conftest import AppFactory
from tests.support import PEOPLE, Faces, SharedBackend, image_json, make_config, wait_until

Client = TestClient[web.Request, web.Application]


def service_of(client: Client) -> FaceService:
    return client.app[SERVICE]


async def test_a_full_queue_answers_503_with_retry_after_and_health_still_answers(
    start_app: AppFactory, faces: Faces
) -> None:
    # Every inference thread is occupied so that a request waits behind them (were one thread
    # free, the request would be answered at once and the queue never fill); one more fills it.
    threads = min(os.cpu_count() or 1, MAX_HELPERS)
    client = await start_app(performance__max_queue_size=threads + 1)
    worker = service_of(client).worker
    assert worker.concurrency == threads
    release = threading.Event()
    blockers = [asyncio.ensure_future(worker.run(release.wait, None)) for _ in range(threads)]
    await wait_until(lambda: worker.depth == threads, "the blocking jobs")
    queued = asyncio.ensure_future(client.post("/v1/recognize", json=image_json(faces.person("amy", 1))))
    await wait_until(lambda: worker.depth == threads + 1, "the queued request")
    for _ in range(3):
        response = await client.post("/v1/recognize", json=image_json(faces.person("amy", 2)))
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "server_busy"
        assert int(response.headers["Retry-After"]) >= 1
    health = await client.get("/health")
    assert health.status == 200
    assert (await health.json())["queue"] == {"depth": threads + 1, "max": threads + 1}
    release.set()
    await asyncio.gather(*blockers)
    assert (await queued).status == 200
    assert worker.rejected == 3


async def test_concurrent_requests_all_get_their_own_right_answer(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app(performance__max_queue_size=32)
    for name in PEOPLE:
        response = await client.post("/v1/database/add", json=image_json(faces.person(name, 1), name=name))
        assert response.status == 201

    async def recognise(name: str) -> Any:
        response = await client.post("/v1/recognize", json=image_json(faces.person(name, 2)))
        assert response.status == 200
        return (await response.json())["faces"][0]["name"]

    names = list(PEOPLE) * 2
    found = await asyncio.gather(*(recognise(name) for name in names))
    assert found == names


async def test_concurrent_teaching_loses_nothing(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app(performance__max_queue_size=32)

    async def teach(name: str, number: int) -> int:
        response = await client.post("/v1/database/add", json=image_json(faces.person(name, number), name=name))
        assert response.status == 201, await response.text()
        face_id: int = (await response.json())["face_id"]
        return face_id

    face_ids = await asyncio.gather(*(teach(name, n) for name in PEOPLE[:4] for n in (1, 2, 3)))
    assert len(set(face_ids)) == 12
    listing = (await (await client.get("/v1/database/list")).json())["identities"]
    assert {i["name"]: i["faces"] for i in listing} == dict.fromkeys(PEOPLE[:4], 3)


async def test_requests_while_starting_get_not_ready(aiohttp_client: Any, cpu_backend: Any, tmp_path: Path) -> None:
    loaded = threading.Event()

    def slow_backend(_config: Config) -> BackendChoice:
        loaded.wait(10)
        return BackendChoice(SharedBackend(cpu_backend))

    client = await aiohttp_client(create_app(make_config(tmp_path), backend_factory=slow_backend))
    health = await client.get("/health")
    assert health.status == 503
    assert (await health.json())["status"] == "starting"
    response = await client.get("/v1/info")
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "not_ready"
    loaded.set()

    async def ready() -> bool:
        return (await client.get("/health")).status == 200

    await wait_until(ready, "the server to become ready")
    assert (await client.get("/v1/info")).status == 200


async def test_a_backend_that_cannot_start_is_reported_by_health(aiohttp_client: Any, tmp_path: Path) -> None:
    def broken(_config: Config) -> BackendChoice:
        raise BackendUnavailable("No Hailo device found at /dev/hailo0")

    client = await aiohttp_client(create_app(make_config(tmp_path), backend_factory=broken))

    async def started() -> bool:
        return bool((await (await client.get("/health")).json())["status"] != "starting")

    await wait_until(started, "start-up to end")
    body = await (await client.get("/health")).json()
    assert body["status"] == "error"
    assert "No Hailo device" in body["error"]
    response = await client.post("/v1/recognize", data=b"x", headers={"Content-Type": "image/jpeg"})
    assert response.status == 503
    assert "No Hailo device" in (await response.json())["error"]["message"]
