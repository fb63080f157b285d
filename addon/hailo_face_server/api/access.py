"""Who may use the server, and how a browser proves it.

Four ways in (docs/security.md has the model and the reasons):

- **Home Assistant's ingress proxy.** A request whose TCP peer is one of
  ``server.ingress_proxies`` (the Supervisor, 172.30.32.2, in the app) comes
  from a user Home Assistant has signed in. Only the peer address counts:
  ``X-Ingress-Path`` or ``X-Forwarded-For`` sent from anywhere else prove
  nothing.
- **The API key**: ``Authorization: Bearer <key>`` (Home Assistant's
  integration, curl).
- **A browser session**: the page's small form takes the key once and sets a
  cookie that is signed with a secret derived from the key (changing the key
  ends every session), expires after ``SESSION_SECONDS``, and is HttpOnly and
  SameSite=Strict.
- **No key configured** (a standalone server on a trusted network): everyone.

A browser's request that changes data (session or ingress) must also say
where it comes from (``Origin``); ``site_middleware`` has already refused a
foreign one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from enum import StrEnum

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from hailo_face_server.api.errors import error_response

SESSION_COOKIE = "hailo_face_session"
SESSION_SECONDS = 7 * 24 * 3600
# Wrong keys from one address before the login form refuses for a while.
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW_S = 60.0

OPEN_PATHS = frozenset({"/health"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACCESS = "hailo_face.access"  # request[ACCESS]: how this request was let in (a Via)


class Via(StrEnum):
    INGRESS = "ingress"
    KEY = "key"
    SESSION = "session"
    OPEN = "open"  # no API key is configured


def peer_address(request: web.Request) -> str | None:
    """The TCP peer's IP address (an IPv4-mapped IPv6 address as IPv4); never a header."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if not peer:
        return None
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def from_ingress(request: web.Request, proxies: frozenset[str]) -> bool:
    return bool(proxies) and peer_address(request) in proxies


def ingress_origin_host(request: web.Request) -> str | None:
    """The host the browser used to reach Home Assistant (the ingress proxy's X-Forwarded-Host)."""
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip().lower()
    return forwarded or None


class Sessions:
    """Signed, expiring browser sessions: ``<expires>.<nonce>.<HMAC-SHA256>``; nothing kept on the server."""

    def __init__(self, api_key: str, clock: Callable[[], float] = time.time) -> None:
        self._secret = hmac.new(api_key.encode("utf-8"), b"hailo-face browser session v1", hashlib.sha256).digest()
        self._clock = clock

    def issue(self) -> str:
        body = f"{int(self._clock()) + SESSION_SECONDS}.{secrets.token_hex(12)}"
        return f"{body}.{self._sign(body)}"

    def valid(self, value: str) -> bool:
        body, _, signature = value.rpartition(".")
        if not body or not hmac.compare_digest(signature.encode("ascii", "replace"), self._sign(body).encode("ascii")):
            return False
        expires = body.partition(".")[0]
        return expires.isdigit() and int(expires) > self._clock()

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class LoginThrottle:
    """At most ``LOGIN_ATTEMPTS`` wrong keys per address in ``LOGIN_WINDOW_S``; then refuse until the window passes.

    Wrong keys count alike from the key form and from ``Authorization``
    headers. An IPv6 client counts by its /64 (one host may hold all of it);
    at most ``MAX_ADDRESSES`` addresses are remembered, the least recent
    forgotten first, so a flood of addresses cannot grow memory.
    """

    MAX_ADDRESSES = 4096

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def _key(address: str) -> str:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(parsed, ipaddress.IPv6Address):
            return str(ipaddress.IPv6Network((parsed, 64), strict=False))
        return address

    def blocked_for(self, address: str) -> float:
        """Seconds until this address may try again (0: now)."""
        failures = self._failures.get(self._key(address))
        if failures is None:
            return 0.0
        self._expire(failures)
        if len(failures) < LOGIN_ATTEMPTS:
            return 0.0
        return max(0.0, failures[0] + LOGIN_WINDOW_S - self._clock())

    def failed(self, address: str) -> None:
        key = self._key(address)
        failures = self._failures.pop(key, None) or deque(maxlen=LOGIN_ATTEMPTS)
        self._expire(failures)
        failures.append(self._clock())
        self._failures[key] = failures  # the most recent last
        while len(self._failures) > self.MAX_ADDRESSES:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(self._key(address), None)

    def _expire(self, failures: deque[float]) -> None:
        while failures and failures[0] + LOGIN_WINDOW_S <= self._clock():
            failures.popleft()


def key_matches(offered: str, api_key: str) -> bool:
    return hmac.compare_digest(offered.strip().encode("utf-8", "surrogateescape"), api_key.encode("utf-8"))


LoginPage = Callable[[web.Request], Awaitable[web.StreamResponse]]


def access_middleware(
    api_key: str,
    ingress_proxies: tuple[str, ...],
    *,
    public_paths: Callable[[str], bool] = lambda _path: False,
    page_paths: frozenset[str] = frozenset(),
    login_page: LoginPage | None = None,
    throttle: LoginThrottle | None = None,
) -> Middleware:
    """Let a request in by one of the four ways, or answer 401 (a page path: the key form).

    With ``throttle``, wrong ``Authorization`` keys count as wrong guesses too:
    an address that made too many gets 429 ``too_many_attempts`` for a while.
    """
    proxies = frozenset(ingress_proxies)
    sessions = Sessions(api_key) if api_key else None

    def via(request: web.Request) -> Via | None:
        if from_ingress(request, proxies):
            return Via.INGRESS
        if not api_key:
            return Via.OPEN
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and key_matches(offered, api_key):
            return Via.KEY
        if scheme and throttle is not None:
            throttle.failed(peer_address(request) or "-")
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie and sessions is not None and sessions.valid(cookie):
            return Via.SESSION
        return None

    @web.middleware
    async def check_access(request: web.Request, handler: Handler) -> web.StreamResponse:
        if throttle is not None and "Authorization" in request.headers:
            wait = throttle.blocked_for(peer_address(request) or "-")
            if wait > 0:
                return error_response(
                    "too_many_attempts",
                    f"Too many wrong API keys from this address: try again in {int(wait) + 1} s.",
                    headers={"Retry-After": str(int(wait) + 1)},
                )
        how = via(request)
        if how is None:
            if request.path in OPEN_PATHS or public_paths(request.path):
                return await handler(request)
            if login_page is not None and request.method in SAFE_METHODS and request.path in page_paths:
                return await login_page(request)
            return error_response(
                "unauthorized",
                "A valid API key is required: send the header Authorization: Bearer <key>.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request[ACCESS] = how
        if (
            how in (Via.SESSION, Via.INGRESS)
            and request.method not in SAFE_METHODS
            and "Origin" not in request.headers
            and request.headers.get("Sec-Fetch-Site", "").lower() != "same-origin"
        ):
            return error_response(
                "forbidden_origin", "A browser request that changes data must say which page sent it (Origin)."
            )
        return await handler(request)

    return check_access
