"""Who gets the web page and the API: one test per rule of docs/security.md ("The web page").

The ingress proxy is a peer address, as the Supervisor's 172.30.32.2 is in the
app; here 127.0.0.2, a second loopback address the tests connect from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hailo_face_server.api.access import SESSION_COOKIE, SESSION_SECONDS, LoginThrottle, Sessions
from tests.server.conftest import AppFactory
from tests.support import Faces

Client = TestClient[web.Request, web.Application]
KEY = "web-page-key"
PROXY = "127.0.0.2"
HA_HOST = "homeassistant.local:8123"
INGRESS_HEADERS = {
    "X-Ingress-Path": "/api/hassio_ingress/abc",
    "X-Hass-Source": "core.ingress",
    "X-Forwarded-Host": HA_HOST,
    "X-Forwarded-Proto": "http",
    "X-Forwarded-For": "192.168.1.20",
}


@pytest.fixture
async def server(start_app: AppFactory) -> Client:
    return await start_app(server__api_key=KEY, server__ingress_proxies=PROXY)


@pytest.fixture
async def from_proxy() -> AsyncIterator[aiohttp.ClientSession]:
    """Requests that come from the ingress proxy's address."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(PROXY, 0)))
    yield session
    await session.close()


def own_origin(client: Client) -> str:
    return f"http://{client.host}:{client.port}"


def session_cookie(response: aiohttp.ClientResponse) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        cookie.load(header)
    return cookie


async def sign_in(client: Client, key: str = KEY, **form: str) -> aiohttp.ClientResponse:
    response = await client.post(
        "/login",
        data={"api_key": key, **form},
        headers={"Origin": own_origin(client)},
        allow_redirects=False,
    )
    client.session.cookie_jar.clear()  # each request below says which cookie it sends
    return response


async def signed_in_cookie(client: Client) -> str:
    response = await sign_in(client)
    assert response.status == 303
    return session_cookie(response)[SESSION_COOKIE].value


async def error_code(response: aiohttp.ClientResponse) -> str:
    body: dict[str, Any] = await response.json()
    code: str = body["error"]["code"]
    return code


# Rule 1: the ingress proxy's address is signed in by Home Assistant.


async def test_the_ingress_address_gets_pages_and_api_without_the_key(
    server: Client, from_proxy: aiohttp.ClientSession, faces: Faces
) -> None:
    page = await from_proxy.get(server.make_url("/"), headers=INGRESS_HEADERS)
    assert page.status == 200
    html = await page.text()
    assert "<h1" in html and "Review" in html and 'href="static/app.css' in html
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    listing = await from_proxy.get(server.make_url("/v1/database/list"), headers=INGRESS_HEADERS)
    assert listing.status == 200
    # A change, from Home Assistant's page: its Origin is the host the browser used.
    added = await from_proxy.post(
        server.make_url("/v1/database/add"),
        params={"name": "penny"},
        data=faces.person("penny", 1).read_bytes(),
        headers={**INGRESS_HEADERS, "Origin": f"http://{HA_HOST}", "Content-Type": "image/png"},
    )
    assert added.status == 201, await added.text()


async def test_through_ingress_a_change_needs_home_assistants_origin(
    server: Client, from_proxy: aiohttp.ClientSession
) -> None:
    url = server.make_url("/v1/sightings/label")
    body = {"sighting_ids": [1], "name": "x"}
    for origin in (None, "http://evil.example", "http://homeassistant.local:9999"):
        headers = dict(INGRESS_HEADERS, **({"Origin": origin} if origin else {}))
        refused = await from_proxy.post(url, json=body, headers=headers)
        assert refused.status == 403, origin
        assert await error_code(refused) == "forbidden_origin"
    # Home Assistant behind a TLS proxy: the browser's origin is https, the host the same.
    passed = await from_proxy.post(url, json=body, headers={**INGRESS_HEADERS, "Origin": f"https://{HA_HOST}"})
    assert passed.status == 404  # let in; there is no sighting 1


# Rule 2: headers prove nothing; only the peer address does.


async def test_forged_ingress_headers_from_another_address_get_nothing(server: Client) -> None:
    forged = {**INGRESS_HEADERS, "X-Forwarded-For": PROXY, "X-Real-IP": PROXY, "X-Remote-User-Id": "admin"}
    page = await server.get("/", headers=forged)
    assert page.status == 401
    assert 'name="api_key"' in await page.text()
    api = await server.get("/v1/database/list", headers=forged)
    assert api.status == 401 and await error_code(api) == "unauthorized"


async def test_without_ingress_proxies_configured_no_address_is_special(
    start_app: AppFactory, from_proxy: aiohttp.ClientSession
) -> None:
    client = await start_app(server__api_key=KEY)
    response = await from_proxy.get(client.make_url("/v1/database/list"), headers=INGRESS_HEADERS)
    assert response.status == 401


# Rule 3: anyone else needs the key: a header, or the key form's session.


async def test_a_missing_or_wrong_key_is_refused(server: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"}):
        api = await server.get("/v1/database/list", headers=headers)
        assert api.status == 401 and await error_code(api) == "unauthorized", headers
    page = await server.get("/people")
    assert page.status == 401 and 'name="api_key"' in await page.text()
    assert (await server.get("/v1/database/list", headers={"Authorization": f"Bearer {KEY}"})).status == 200
    # What the key form needs is open; nothing else is.
    assert (await server.get("/static/app.css")).status == 200
    assert (await server.get("/login")).status == 200
    assert (await server.get("/openapi.json")).status == 401


async def test_a_large_or_slow_key_form_is_refused(server: Client) -> None:
    big = await server.post(
        "/login", data={"api_key": "x" * 10_000}, headers={"Origin": own_origin(server)}, allow_redirects=False
    )
    assert big.status == 413 and await error_code(big) == "payload_too_large"


async def test_the_key_form_sets_a_signed_httponly_strict_cookie(server: Client) -> None:
    wrong = await sign_in(server, "nope")
    assert wrong.status == 401 and "That is not the API key." in await wrong.text()
    assert SESSION_COOKIE not in session_cookie(wrong)

    response = await sign_in(server, next="person?name=Penny")
    assert response.status == 303 and response.headers["Location"] == "person?name=Penny"
    morsel = session_cookie(response)[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert int(morsel["max-age"]) == SESSION_SECONDS
    cookie = {"Cookie": f"{SESSION_COOKIE}={morsel.value}"}
    assert (await server.get("/people", headers=cookie)).status == 200
    assert (await server.get("/v1/database/list", headers=cookie)).status == 200

    # A name with spaces or accents survives the detour through the key form.
    asked = await server.get("/person?name=Ren%C3%A9e+L")
    assert 'value="person?name=Ren%C3%A9e+L"' in await asked.text()
    # Back to our own pages only: never to another site.
    for target in ("//evil.example/", "https://evil.example", "/\\evil.example", "people/../../x", "nowhere"):
        response = await sign_in(server, next=target)
        assert response.headers["Location"] == "./", target


async def test_a_tampered_expired_or_foreign_cookie_is_refused(server: Client) -> None:
    good = await signed_in_cookie(server)
    expires, nonce, signature = good.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    old = Sessions(KEY, clock=lambda: 1_000_000.0).issue()  # signed with the key, expired long ago
    tampered = [
        f"{int(expires) + 86400}.{nonce}.{signature}",  # a later expiry, the old signature
        f"{expires}.{nonce}.{flipped}",
        f"{expires}.{nonce}",
        old,
        Sessions("another key").issue(),
        "garbage",
        "",
    ]
    for value in tampered:
        for path in ("/", "/v1/database/list"):
            response = await server.get(path, headers={"Cookie": f"{SESSION_COOKIE}={value}"})
            assert response.status == 401, (value, path)
    assert (await server.get("/", headers={"Cookie": f"{SESSION_COOKIE}={good}"})).status == 200


async def test_changing_the_key_ends_every_session(start_app: AppFactory, tmp_path: Any) -> None:
    first = await start_app(tmp_path / "a", server__api_key=KEY)
    cookie = await signed_in_cookie(first)
    second = await start_app(tmp_path / "b", server__api_key="a new key")
    response = await second.get("/v1/database/list", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert response.status == 401


# Rule 4: a browser's change must come from our own page.


async def test_a_cross_site_post_with_the_cookie_is_refused(server: Client) -> None:
    cookie = f"{SESSION_COOKIE}={await signed_in_cookie(server)}"
    body = {"sighting_ids": [1], "name": "x"}
    attempts: list[dict[str, str]] = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {},  # a browser's change that does not say where it comes from
        {"Sec-Fetch-Site": "same-site"},
    ]
    for extra in attempts:
        response = await server.post("/v1/sightings/label", json=body, headers={"Cookie": cookie, **extra})
        assert response.status == 403, extra
        assert await error_code(response) == "forbidden_origin"
    for extra in ({"Origin": own_origin(server)}, {"Sec-Fetch-Site": "same-origin"}):
        response = await server.post("/v1/sightings/label", json=body, headers={"Cookie": cookie, **extra})
        assert response.status == 404, extra  # let in; there is no sighting 1
    # The key form itself is a change: a foreign page cannot sign a browser in (login CSRF).
    forged = await server.post(
        "/login", data={"api_key": KEY}, headers={"Origin": "http://evil.example"}, allow_redirects=False
    )
    assert forged.status == 403 and SESSION_COOKIE not in session_cookie(forged)
    # Signing out is one too.
    assert (await server.post("/logout", headers={"Origin": "http://evil.example"})).status == 403


async def test_wrong_keys_are_throttled(server: Client) -> None:
    for _ in range(5):
        assert (await sign_in(server, "guess")).status == 401
    blocked = await sign_in(server)
    assert blocked.status == 429 and "Too many wrong keys" in await blocked.text()
    assert SESSION_COOKIE not in session_cookie(blocked)
    # Nor may the address go on guessing through the Authorization header.
    refused = await server.get("/v1/database/list", headers={"Authorization": f"Bearer {KEY}"})
    assert refused.status == 429 and await error_code(refused) == "too_many_attempts"
    assert int(refused.headers["Retry-After"]) >= 1


async def test_wrong_api_keys_in_headers_are_throttled_too(server: Client) -> None:
    for _ in range(5):
        assert (await server.get("/v1/info", headers={"Authorization": "Bearer guess"})).status == 401
    assert (await server.get("/v1/info", headers={"Authorization": f"Bearer {KEY}"})).status == 429
    assert (await server.get("/health")).status == 200  # a watchdog without a key is not affected


def test_the_throttle_forgets_and_groups_ipv6_by_64() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(5):
        throttle.failed("2001:db8::1")
    assert throttle.blocked_for("2001:db8::ffff") > 0  # the same /64
    assert throttle.blocked_for("2001:db8:0:1::1") == 0
    now[0] = 61.0
    assert throttle.blocked_for("2001:db8::1") == 0
    # A flood of addresses does not grow without bound.
    for i in range(LoginThrottle.MAX_ADDRESSES + 100):
        throttle.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle._failures) == LoginThrottle.MAX_ADDRESSES


async def test_without_a_key_everything_is_open(start_app: AppFactory) -> None:
    client = await start_app()
    assert (await client.get("/")).status == 200
    assert (await client.get("/v1/database/list")).status == 200
    response = await client.get("/login", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "./"
    # Still no cross-site changes.
    response = await client.post("/v1/sightings/label", json={}, headers={"Origin": "http://evil.example"})
    assert response.status == 403


async def test_every_page_is_relative_and_signed_out_by_the_form(server: Client) -> None:
    cookie = {"Cookie": f"{SESSION_COOKIE}={await signed_in_cookie(server)}"}
    for path in ("/", "/activity", "/people", "/person?name=x", "/status"):
        response = await server.get(path, headers=cookie)
        assert response.status == 200, path
        html = await response.text()
        assert 'href="/' not in html and 'src="/' not in html and 'action="/' not in html, path
        assert response.headers["Cache-Control"] == "no-store"
        assert 'action="logout"' in html
    out = await server.post("/logout", headers={"Origin": own_origin(server), **cookie}, allow_redirects=False)
    assert out.status == 303 and session_cookie(out)[SESSION_COOKIE].value == ""


async def test_a_trusted_origin_may_frame_the_page(start_app: AppFactory, tmp_path: Any) -> None:
    """A Webpage dashboard of Home Assistant (another origin) shows the page when the owner trusts it."""
    client = await start_app(server__allowed_origins="http://homeassistant.local:8123, https://ha.example.org/")
    policy = (await client.get("/")).headers["Content-Security-Policy"]
    assert policy.endswith("frame-ancestors 'self' http://homeassistant.local:8123 https://ha.example.org")
    plain = await start_app(tmp_path / "plain")
    assert (await plain.get("/")).headers["Content-Security-Policy"].endswith("frame-ancestors 'self'")
