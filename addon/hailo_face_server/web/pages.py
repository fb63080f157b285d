"""The pages: Jinja2 renders each page's frame; its script fills it from the public ``/v1`` API.

Every URL in a page is relative and every page sits at the top level
(``./``, ``activity``, ``people``, ``person?name=…``, ``status``), so the
same HTML works at ``http://host:5002/`` and under Home Assistant's ingress
path (``/api/hassio_ingress/<token>/``) without knowing that path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hailo_face_server import __version__
from hailo_face_server.api.access import (
    ACCESS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    LoginThrottle,
    Sessions,
    Via,
    key_matches,
    peer_address,
)
from hailo_face_server.api.inputs import BODY_TIMEOUT
from hailo_face_server.errors import BodyTimeout, PayloadTooLarge

STATIC_DIR = Path(__file__).with_name("static")
STATIC_PREFIX = "/static/"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
MAX_FORM_BYTES = 4096  # the key form's body: a key and a page name
ROUTE_PREFIX = "web-"  # the names of the page's routes: not part of the API (nor of openapi.json)

# Scripts and styles only from this server (no inline code, no CDN); crops and
# the photos being uploaded (blob:) as images; framed only by a page of our own
# origin (ingress serves us from Home Assistant's) or of one the owner trusts
# (server.allowed_origins: Home Assistant's, for a Webpage dashboard).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


def content_security_policy(allowed_origins: tuple[str, ...]) -> str:
    framers = " ".join(o.rstrip("/") for o in allowed_origins if _ORIGIN.match(o.rstrip("/")))
    return f"{CONTENT_SECURITY_POLICY} {framers}".rstrip()


@dataclass(frozen=True)
class Page:
    path: str
    name: str  # its template and its script
    title: str


PAGES = (
    Page("/", "review", "Review"),
    Page("/activity", "activity", "Activity"),
    Page("/people", "people", "People"),
    Page("/person", "person", "Person"),
    Page("/status", "status", "Status"),
)
PAGE_PATHS = frozenset(page.path for page in PAGES)


@dataclass(frozen=True)
class LoginSettings:
    api_key: str
    sessions: Sessions | None
    throttle: LoginThrottle
    content_security_policy: str = CONTENT_SECURITY_POLICY


LOGIN_SETTINGS: web.AppKey[LoginSettings] = web.AppKey("web_login", LoginSettings)
_QUERY = re.compile(r"^[A-Za-z0-9%._~=&+-]{0,300}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+$")  # scheme://host[:port], nothing that could end the header


def is_public_path(path: str) -> bool:
    """What the key form needs before anyone has signed in."""
    return path.startswith(STATIC_PREFIX) or path in (LOGIN_PATH, LOGOUT_PATH)


def setup(app: web.Application, api_key: str, throttle: LoginThrottle, allowed_origins: tuple[str, ...] = ()) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("hailo_face_server.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app[LOGIN_SETTINGS] = LoginSettings(
        api_key, Sessions(api_key) if api_key else None, throttle, content_security_policy(allowed_origins)
    )
    for page in PAGES:
        app.router.add_get(page.path, _page_handler(page), name=f"{ROUTE_PREFIX}page-{page.name}")
    app.router.add_get(LOGIN_PATH, _login_form, name=f"{ROUTE_PREFIX}login-form")
    app.router.add_post(LOGIN_PATH, _login, name=f"{ROUTE_PREFIX}login")
    app.router.add_post(LOGOUT_PATH, _logout, name=f"{ROUTE_PREFIX}logout")
    app.router.add_static(STATIC_PREFIX.rstrip("/"), STATIC_DIR, name=f"{ROUTE_PREFIX}static")


def _render(request: web.Request, template: str, status: int = 200, **context: object) -> web.Response:
    response = aiohttp_jinja2.render_template(
        template,
        request,
        {"version": __version__, "signed_in_by_key": request.get(ACCESS) == Via.SESSION, **context},
        status=status,
    )
    response.headers["Content-Security-Policy"] = request.app[LOGIN_SETTINGS].content_security_policy
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _page_handler(page: Page) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def show(request: web.Request) -> web.Response:
        return _render(request, f"{page.name}.html", page=page.name, title=page.title)

    return show


async def login_page(request: web.Request) -> web.StreamResponse:
    """What a page answers to a browser that has neither a session nor ingress: the key form (401)."""
    return _render(request, "login.html", status=401, page="login", title="Sign in", error=None, next=_next(request))


async def _login_form(request: web.Request) -> web.StreamResponse:
    if not request.app[LOGIN_SETTINGS].api_key or request.get(ACCESS) in (Via.SESSION, Via.INGRESS):
        return _see_other("./")
    return _render(request, "login.html", page="login", title="Sign in", error=None, next=_next(request))


async def _login(request: web.Request) -> web.StreamResponse:
    settings = request.app[LOGIN_SETTINGS]
    if not settings.api_key or settings.sessions is None:
        return _see_other("./")
    address = peer_address(request) or "-"
    if (request.content_length or 0) > MAX_FORM_BYTES:
        raise PayloadTooLarge("The sign-in form is a few bytes; this request is far larger.")
    try:
        async with asyncio.timeout(request.app[BODY_TIMEOUT]):
            form = await request.post()
    except TimeoutError:
        raise BodyTimeout("The sign-in form did not arrive in time.") from None
    target = _safe_next(str(form.get("next", "")))
    wait = settings.throttle.blocked_for(address)
    if wait > 0:
        return _render(
            request,
            "login.html",
            status=429,
            page="login",
            title="Sign in",
            error=f"Too many wrong keys from this address: try again in {int(wait) + 1} s.",
            next=target,
        )
    offered = form.get("api_key", "")
    if not isinstance(offered, str) or not offered.strip() or not key_matches(offered, settings.api_key):
        settings.throttle.failed(address)
        return _render(
            request,
            "login.html",
            status=401,
            page="login",
            title="Sign in",
            error="That is not the API key.",
            next=target,
        )
    settings.throttle.succeeded(address)
    response = _see_other(target)
    response.set_cookie(
        SESSION_COOKIE,
        settings.sessions.issue(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    return response


async def _logout(request: web.Request) -> web.StreamResponse:
    response = _see_other("login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def _see_other(location: str) -> web.Response:
    """A 303 to one of our pages, by a relative URL (it stays under ingress's path prefix)."""
    return web.Response(status=303, headers={"Location": location})


def _next(request: web.Request) -> str:
    """Where the key form returns to: the page that asked for it."""
    page = next((p for p in PAGES if p.path == request.path), None)
    if page is None or page.path == "/":
        return "./"
    return page.path.lstrip("/") + (f"?{request.rel_url.raw_query_string}" if request.rel_url.raw_query_string else "")


def _safe_next(target: str) -> str:
    """Only one of our pages, by a relative URL: never another site (an open redirect)."""
    path, _, query = target.partition("?")
    if path in ("", "./"):
        path = "./"
    elif f"/{path}" not in PAGE_PATHS or "/" in path:
        return "./"
    return f"{path}?{query}" if query and _QUERY.match(query) else path
