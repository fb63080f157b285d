"""Request ids, API-key authentication and JSON errors for every route."""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from contextvars import ContextVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from hailo_face_server.api.errors import error_response, http_error_response, service_error_response
from hailo_face_server.errors import FaceServiceError
from hailo_face_server.metrics import Metrics

_LOGGER = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
OPEN_PATHS = frozenset({"/health"})
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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except FaceServiceError as err:
        return service_error_response(err)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return http_error_response(err)
    except Exception:
        _LOGGER.exception("Unexpected error while serving %s %s", request.method, request.path)
        return error_response("internal_error", "The server failed to handle this request; see its log.")


def auth_middleware(api_key: str) -> Middleware:
    expected = api_key.encode("utf-8")

    @web.middleware
    async def check_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            offered.strip().encode("utf-8", "surrogateescape"), expected
        ):
            return error_response(
                "unauthorized",
                "A valid API key is required: send the header Authorization: Bearer <key>.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await handler(request)

    return check_api_key
