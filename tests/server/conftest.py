"""Fixtures for the server tests: the real app on the real CPU models and real photographs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hailo_face_server.app import create_app
from hailo_face_server.backends import BackendChoice
from hailo_face_server.backends.cpu import CpuBackend
from tests.support import SharedBackend, make_config


@pytest.fixture(scope="session")
def cpu_backend() -> Iterator[CpuBackend]:
    """The CPU backend as the server runs it: descriptors on onnxruntime."""
    backend = CpuBackend()
    assert backend.info.models["embedder_runtime"] == "onnxruntime"
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def dlib_cpu_backend() -> Iterator[CpuBackend]:
    """The fallback: dlib's own descriptor in helper processes."""
    backend = CpuBackend(descriptor="dlib")
    yield backend
    backend.close()


AppFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def start_app(aiohttp_client: Any, cpu_backend: CpuBackend, tmp_path: Path) -> AppFactory:
    """Start the real app; keyword overrides use section__key, e.g. server__api_key="k"."""

    async def start(
        data_dir: Path | None = None, *, backend: CpuBackend | None = None, **overrides: Any
    ) -> TestClient[web.Request, web.Application]:
        config = make_config(data_dir or tmp_path, **overrides)
        shared = SharedBackend(backend or cpu_backend)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(
            create_app(config, backend_factory=lambda _config: BackendChoice(shared))
        )
        await wait_ready(client)
        return client

    return start


async def wait_ready(client: TestClient[web.Request, web.Application], seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        response = await client.get("/health")
        if response.status == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the server did not become ready: {await response.text()}")


@pytest.fixture
async def client(start_app: AppFactory) -> TestClient[web.Request, web.Application]:
    return await start_app()
