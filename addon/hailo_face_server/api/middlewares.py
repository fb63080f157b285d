"""Request ids, metrics, cross-site and Host checks, and JSON errors for every route (access: access.py)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from hailo_face_server.api.access import OPEN_PATHS, SAFE_METHODS, from_ingress, ingress_origin_host
from hailo_face_server.api.errors import error_response, http_error_response, service_error_response
from hailo_face_server.errors import BodyTimeout, FaceServiceError
from hailo_face_server.metrics import Metrics

_LOGGER = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = offered if _CLIENT_REQUEST_ID.match(offered) else uuid.uuid4().hex[:16]
    token = request_id_var.set(request_id)
    try:
        response = await handler(request)
    finally:
        request_id_var.reset(token)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def metrics_middleware(metrics: Metrics) -> Middleware:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as err:
            status = err.status
            raise
        finally:
            metrics.requests.labels(route=route, method=request.method, status=str(status)).inc()
            metrics.request_seconds.labels(route=route).observe(time.perf_counter() - start)

    return count


# nginx's status for a client that went away before its answer; never sent, only counted and logged.
CLIENT_CLOSED_REQUEST = 499


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except FaceServiceError as err:
        response = service_error_response(err)
        if isinstance(err, BodyTimeout):
            response.force_close()  # the rest of the body may still come: do not read it as a request
        return response
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return http_error_response(err)
    except ConnectionResetError:
        _LOGGER.info("The client closed the connection during %s %s", request.method, request.path)
        return web.Response(status=CLIENT_CLOSED_REQUEST)
    except Exception:
        _LOGGER.exception("Unexpected error while serving %s %s", request.method, request.path)
        return error_response("internal_error", "The server failed to handle this request; see its log.")


def site_middleware(
    allowed_origins: tuple[str, ...], allowed_hosts: tuple[str, ...], ingress_proxies: tuple[str, ...] = ()
) -> Middleware:
    """Refuse what a browser may send on behalf of another web site.

    A page on any site can make a browser POST a form (no preflight) to a
    server on the LAN: a state-changing request whose ``Origin`` is neither the
    server's own nor a configured one is refused (403 forbidden_origin).
    Clients that are not browsers send no ``Origin`` and are not affected.
    With ``allowed_hosts`` set, a request for another ``Host`` (DNS
    rebinding) is refused too (403 forbidden_host); ``/health`` is exempt.
    Through Home Assistant's ingress proxy (the peer is one of
    ``ingress_proxies``), the browser's origin is Home Assistant's, which the
    proxy names in ``X-Forwarded-Host``.
    """
    origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)
    hosts = frozenset(host.lower() for host in allowed_hosts)
    proxies = frozenset(ingress_proxies)

    @web.middleware
    async def check_site(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.host.lower()
        ingress = from_ingress(request, proxies)
        if (
            hosts
            and not ingress
            and request.path not in OPEN_PATHS
            and host not in hosts
            and host.rsplit(":", 1)[0] not in hosts
        ):
            return error_response(
                "forbidden_host", "This server does not answer for that host name (server.allowed_hosts)."
            )
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("Origin")
            if origin is not None:
                own = {f"{request.scheme}://{host}"}
                if ingress and (forwarded := ingress_origin_host(request)):
                    own |= {f"http://{forwarded}", f"https://{forwarded}"}
                if _without_default_port(origin) not in {_without_default_port(o) for o in origins | own}:
                    return error_response(
                        "forbidden_origin",
                        "Requests that change data are not accepted from another web site "
                        "(add its origin to server.allowed_origins to allow it).",
                    )
            elif request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
                return error_response(
                    "forbidden_origin", "Requests that change data are not accepted from another web site."
                )
        return await handler(request)

    return check_site


def _without_default_port(origin: str) -> str:
    origin = origin.rstrip("/").lower()
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[: -len(port)]
    return origin


SERVER_NAME = "hailo-face"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer: no version banner, and no content sniffing (a stored crop is only ever an image)."""
    response.headers["Server"] = SERVER_NAME
    response.headers["X-Content-Type-Options"] = "nosniff"
