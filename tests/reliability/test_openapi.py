"""The OpenAPI description matches the app, and a running server keeps to it under schemathesis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks

from hailo_face_server.api.openapi import OPENAPI
from hailo_face_server.app import create_app
from hailo_face_server.web.pages import ROUTE_PREFIX as WEB_ROUTES
from tests.reliability.conftest import AUTH, Server
from tests.support import FACES_DIR, make_config

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
# No 5xx, and statuses, content types, headers and bodies as described. (Not
# "schema-valid data is accepted": a JSON schema cannot say what a decodable
# image is, so a random but schema-valid body rightly gets a 400.)
CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]
METHODS = {"get", "post", "put", "patch", "delete"}


def test_every_route_is_described_and_nothing_else(tmp_path: Path) -> None:
    app = create_app(make_config(tmp_path))
    routes = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and not (route.resource.name or "").startswith(WEB_ROUTES)  # the web page is not the API
    }
    assert {name for name in app.router.named_resources() if name.startswith(WEB_ROUTES)}, "the web page is served"
    described = {(path, method) for path, item in OPENAPI["paths"].items() for method in item if method in METHODS}
    assert routes == described


def test_the_served_description_is_this_one(servers: list[Server], tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    servers.append(server)
    server.wait_ready()
    status, body = server.request("GET", "/openapi.json")
    assert status == 200
    assert body == OPENAPI
    assert server.request("GET", "/openapi.json", headers={"Authorization": ""})[0] == 401


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("schemathesis") / "data")
    server.wait_ready()
    status, _ = server.request(
        "POST", "/v1/database/add?name=amy", (FACES_DIR / "people" / "amy" / "amy1.png").read_bytes(),
        {"Content-Type": "image/png"},
    )  # fmt: skip
    assert status == 201
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(running: Server) -> Any:
    # Headers the description does not declare are not generated: aiohttp's own
    # HTTP parser answers a malformed header line with a plain-text 400 before
    # the app sees the request.
    config = SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False}})
    return schemathesis.openapi.from_dict(OPENAPI, config=config)


for media_type in ("image/jpeg", "image/png", "image/webp", "application/vnd.sqlite3", "application/octet-stream"):

    @schemathesis.serializer(media_type)
    def _raw_bytes(ctx: Any, value: Any) -> bytes:
        return value if isinstance(value, bytes) else str(value).encode("utf-8")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_server_keeps_to_its_description(case: Any, running: Server) -> None:
    """No 5xx, and every status, content type and body as described (short run; see docs/reliability.md)."""
    case.call_and_validate(base_url=running.url, headers=AUTH, checks=CHECKS)
