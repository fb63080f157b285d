"""Fixtures for the Home Assistant tests: a real Hailo Face server app on 127.0.0.1 and real cameras."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.hailo_face.config_flow import DEFAULT_OPTIONS
from custom_components.hailo_face.const import CONF_CAMERAS, DOMAIN
from hailo_face_server.app import create_app
from hailo_face_server.backends import BackendChoice
from hailo_face_server.backends.base import Fallback
from hailo_face_server.backends.cpu import CpuBackend
from tests.support import SharedBackend, make_config

API_KEY = "test-api-key"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/hailo_face."""


@pytest.fixture(autouse=True)
def no_deprecation_reports(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Home Assistant reports a deprecated use by an integration in its log ("... will stop working"): none of ours."""
    yield
    reports = [
        record.getMessage()
        for record in caplog.get_records("call")
        if "hailo_face" in record.getMessage()
        and any(word in record.getMessage().lower() for word in ("deprecat", "will stop working", "detected that"))
    ]
    assert reports == []


@pytest.fixture(scope="session")
def cpu_backend() -> Iterator[CpuBackend]:
    # No helper processes or scan threads: the HA harness fails a test that
    # leaves Python threads behind (onnxruntime's own threads are not Python's).
    backend = CpuBackend(helper_processes=0, scan_threads=1)
    yield backend
    backend.close()


@dataclass
class RunningServer:
    """The real server app, served on 127.0.0.1; it can be stopped and started again."""

    data_dir: Path
    backend: CpuBackend
    api_key: str
    port: int = 0
    server: TestServer | None = None
    fallback: Fallback | None = None  # started on the CPU because the wanted backend could not start
    problem: str | None = None  # what the backend reports as wrong (the server is then degraded)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        config = make_config(self.data_dir, server__api_key=self.api_key)
        shared = SharedBackend(self.backend) if self.problem is None else TroubledBackend(self.backend, self.problem)
        app = create_app(config, backend_factory=lambda _config: BackendChoice(shared, self.fallback))
        self.server = TestServer(app, host="127.0.0.1", port=self.port or None)
        await self.server.start_server()
        self.port = self.server.port or 0
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                async with session.get(f"{self.url}/health") as response:
                    if (await response.json())["status"] in ("ok", "degraded"):  # started (degraded: 503)
                        return
                await asyncio.sleep(0.05)
        raise AssertionError("the Hailo Face server did not become ready")

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A JSON route of the server, as another client (or the web page) calls it."""
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.url}{path}", json=body, headers={"Authorization": f"Bearer {self.api_key}"}
            ) as response,
        ):
            assert response.status < 300, await response.text()
            return await response.json()

    async def teach(self, name: str, image: Path) -> dict[str, Any]:
        data = await asyncio.get_running_loop().run_in_executor(None, image.read_bytes)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.url}/v1/database/add",
                params={"name": name},
                data=data,
                headers={"Content-Type": "image/png", "Authorization": f"Bearer {self.api_key}"},
            ) as response,
        ):
            assert response.status == 201, await response.text()
            body: dict[str, Any] = await response.json()
            return body


class TroubledBackend(SharedBackend):
    """The CPU backend reporting a problem, as the Hailo backend does when its device fails."""

    def __init__(self, backend: CpuBackend, problem: str) -> None:
        super().__init__(backend)
        self._problem = problem

    @property
    def problem(self) -> str | None:
        return self._problem


@pytest.fixture
async def hailo_server(socket_enabled: None, cpu_backend: CpuBackend, tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = RunningServer(tmp_path / "server", cpu_backend, API_KEY)
    await server.start()
    yield server
    await server.stop()


CameraFactory = Callable[[str, Path], Awaitable[str]]


@pytest.fixture
async def add_camera(hass: HomeAssistant) -> CameraFactory:
    """Real cameras: Local File cameras showing the test photographs."""
    assert await async_setup_component(hass, "camera", {})

    async def add(name: str, image: Path) -> str:
        entry = MockConfigEntry(domain="local_file", title=name, options={"name": name, "file_path": str(image)})
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        states = [s for s in hass.states.async_all("camera") if s.name == name]
        assert len(states) == 1, [s.entity_id for s in hass.states.async_all("camera")]
        return states[0].entity_id

    return add


async def show(hass: HomeAssistant, camera: str, image: Path) -> None:
    """Point a Local File camera at another photograph."""
    await hass.services.async_call(
        "local_file", "update_file_path", {"file_path": str(image)}, target={"entity_id": camera}, blocking=True
    )


def mock_entry(server: RunningServer, cameras: list[str] | None = None, **options: Any) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Hailo Face",
        unique_id=None,
        data={CONF_URL: server.url, CONF_API_KEY: server.api_key},
        options={**DEFAULT_OPTIONS, CONF_CAMERAS: cameras or [], **options},
    )


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
