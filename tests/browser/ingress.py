"""A stand-in for Home Assistant's ingress proxy, for the browser tests.

It does to a request what Home Assistant core and the Supervisor do together
(read from their sources: core's ``hassio/ingress.py`` and the Supervisor's
``api/ingress.py``): it serves the app under ``/api/hassio_ingress/<token>/``,
strips that prefix, forwards the browser's headers plus ``X-Ingress-Path``,
``X-Hass-Source``, ``X-Forwarded-Host``/``-Proto``/``-For``, does not follow
redirects, and connects to the app from its own address (here 127.0.0.2,
standing for the Supervisor's 172.30.32.2). It stands in for Home Assistant's
sign-in as well: whoever reaches it is let through, as a signed-in user is.
Every path it was asked for is recorded, so a test can prove that the pages
never left the prefix.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

PROXY_ADDRESS = "127.0.0.2"
TOKEN = "4Tq9rW1xYzHassioIngressToken"
PREFIX = f"/api/hassio_ingress/{TOKEN}"
# Headers neither proxy passes on (hop-by-hop, and those the body's re-encoding changes).
DROPPED = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive", "host"}


@dataclass
class IngressProxy:
    upstream: str  # http://127.0.0.1:<port> of the app
    url: str = ""  # http://localhost:<port><PREFIX>/ once started
    outside_prefix: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True, name="ingress-proxy")
        self._thread.start()
        if not ready.wait(30):
            raise AssertionError("the ingress proxy did not start")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(PROXY_ADDRESS, 0)), auto_decompress=False
        )
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://localhost:{port}{PREFIX}/"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith(PREFIX + "/"):
            self.outside_prefix.append(request.path)
            return web.Response(status=404, text="not an ingress path")
        path = request.raw_path[len(PREFIX) :]
        self.forwarded.append(path)
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in DROPPED)
        headers["X-Ingress-Path"] = PREFIX
        headers["X-Hass-Source"] = "core.ingress"
        headers["X-Forwarded-Host"] = request.host
        headers["X-Forwarded-Proto"] = request.scheme
        peer = request.remote or ""
        previous = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{previous}, {peer}" if previous else peer
        async with self._session.request(
            request.method,
            self.upstream + path,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            kept = CIMultiDict((k, v) for k, v in answer.headers.items() if k.lower() not in DROPPED)
            return web.Response(status=answer.status, body=body, headers=kept)
