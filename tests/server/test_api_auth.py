"""API key: every route but /health needs ``Authorization: Bearer <key>``."""

from __future__ import annotations

import pytest

from tests.server.conftest import AppFactory
from tests.support import Faces, image_json

KEY = "s3cret-key-for-tests"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/info"),
        ("POST", "/v1/detect"),
        ("POST", "/v1/embed"),
        ("POST", "/v1/recognize"),
        ("POST", "/v1/database/add"),
        ("GET", "/v1/database/list"),
        ("DELETE", "/v1/database/amy"),
        ("PATCH", "/v1/database/amy"),
        ("DELETE", "/v1/database/amy/faces/1"),
        ("GET", "/v1/database/amy/faces/1/image"),
        ("GET", "/v1/does-not-exist"),
    ],
)
async def test_every_route_but_health_needs_the_key(start_app: AppFactory, method: str, path: str) -> None:
    client = await start_app(server__api_key=KEY)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"}):
        response = await client.request(method, path, headers=headers)
        assert response.status == 401, (headers, await response.text())
        assert (await response.json())["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_health_is_open_and_the_right_key_works(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app(server__api_key=KEY)
    assert (await client.get("/health")).status == 200
    auth = {"Authorization": f"Bearer {KEY}"}
    assert (await client.get("/v1/info", headers=auth)).status == 200
    response = await client.post("/v1/database/add", json=image_json(faces.person("amy", 1), name="amy"), headers=auth)
    assert response.status == 201
    response = await client.post("/v1/recognize", json=image_json(faces.person("amy", 2)), headers=auth)
    assert (await response.json())["faces"][0]["name"] == "amy"


async def test_without_a_configured_key_no_header_is_needed(start_app: AppFactory) -> None:
    client = await start_app()
    assert (await client.get("/v1/info")).status == 200
