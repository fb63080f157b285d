"""The aiohttp application: middlewares, routes and the service's lifecycle.

The HTTP port opens at once; ``/health`` answers 503 ``starting`` until the
models are loaded and the gallery is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from hailo_face_server import web as web_page
from hailo_face_server.api.access import LoginThrottle, access_middleware
from hailo_face_server.api.inputs import BODY_LIMIT, BODY_TIMEOUT
from hailo_face_server.api.keys import SERVICE
from hailo_face_server.api.middlewares import (
    add_security_headers,
    error_middleware,
    metrics_middleware,
    request_id_middleware,
    site_middleware,
)
from hailo_face_server.api.openapi import ROUTE_TABLES
from hailo_face_server.api.openapi import routes as openapi_routes
from hailo_face_server.backends import BackendChoice, BackendUnavailable, create_backend
from hailo_face_server.config import Config
from hailo_face_server.service import FaceService

_LOGGER = logging.getLogger(__name__)

STARTUP: web.AppKey[asyncio.Task[None]] = web.AppKey("startup", asyncio.Task)


def create_app(config: Config, backend_factory: Callable[[Config], BackendChoice] = create_backend) -> web.Application:
    service = FaceService(config, backend_factory)
    throttle = LoginThrottle()  # wrong keys, from the key form and from Authorization headers
    middlewares: list[Middleware] = [
        request_id_middleware,
        metrics_middleware(service.metrics),
        error_middleware,
        site_middleware(config.server.allowed_origins, config.server.allowed_hosts, config.server.ingress_proxies),
        access_middleware(
            config.server.api_key,
            config.server.ingress_proxies,
            public_paths=web_page.is_public_path,
            page_paths=web_page.PAGE_PATHS,
            login_page=web_page.login_page,
            throttle=throttle,
        ),
    ]
    # aiohttp would answer a body it cannot decompress itself, in plain text: read_body decompresses.
    app = web.Application(
        middlewares=middlewares,
        client_max_size=config.server.max_body_bytes,
        handler_args={"auto_decompress": False},
    )
    app[SERVICE] = service
    # aiohttp 3.11's Signal annotation does not accept a plain coroutine function here.
    app.on_response_prepare.append(add_security_headers)  # type: ignore[arg-type]
    app[BODY_LIMIT] = config.server.max_body_bytes
    app[BODY_TIMEOUT] = config.server.body_timeout
    for table in (*ROUTE_TABLES, openapi_routes):
        app.add_routes(table)
    web_page.setup(app, config.server.api_key, throttle, config.server.allowed_origins)
    app.cleanup_ctx.append(_service_lifecycle)
    return app


async def _start(service: FaceService) -> None:
    try:
        await service.start()
    except BackendUnavailable as err:
        _LOGGER.error("Cannot start the %s backend: %s", service.config.face_recognition.backend, err)
        raise
    except Exception:
        _LOGGER.exception("Start-up failed")
        raise


async def _service_lifecycle(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    app[STARTUP] = asyncio.create_task(_start(service), name="hailo-face-startup")
    yield
    startup = app[STARTUP]
    if not startup.done():
        startup.cancel()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await startup
    await service.stop()
