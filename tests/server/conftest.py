"""Fixtures for the server tests: the real app on the real CPU models and real photographs."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hailo_face_server.app import create_app
from hailo_face_server.backends.base import FaceBackend
from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.config import Config, build_config

REPO_ROOT = Path(__file__).resolve().parents[2]
FACES_DIR = Path(os.environ.get("HAILO_FACE_TEST_FACES", REPO_ROOT.parent / "shared" / "faces"))
PEOPLE = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart")


@dataclass(frozen=True)
class Faces:
    root: Path

    def person(self, name: str, number: int) -> Path:
        return self.root / "people" / name / f"{name}{number}.png"

    def group(self, filename: str) -> Path:
        return self.root / "groups" / filename

    def labels(self) -> dict[str, list[dict[str, Any]]]:
        labels: dict[str, list[dict[str, Any]]] = json.loads((self.root / "groups" / "labels.json").read_text())
        return labels


@pytest.fixture(scope="session")
def faces() -> Faces:
    assert FACES_DIR.is_dir(), f"the test photographs are missing: {FACES_DIR} (see shared/faces/README.md)"
    return Faces(FACES_DIR)


class SharedBackend(FaceBackend):
    """The real CPU backend, loaded once per test session and shared by the apps under test."""

    def __init__(self, backend: CpuBackend) -> None:
        self.inner = backend
        self.info = backend.info
        self.aligner = backend.aligner

    def detect(self, pixels: np.ndarray, *, min_face_size: int, threshold: float) -> Any:
        return self.inner.detect(pixels, min_face_size=min_face_size, threshold=threshold)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        return self.inner.embed(chips)


@pytest.fixture(scope="session")
def cpu_backend() -> Iterator[CpuBackend]:
    backend = CpuBackend()
    yield backend
    backend.close()


def make_config(data_dir: Path, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "database.db_file": str(data_dir / "faces.db"),
        "database.backup_path": str(data_dir / "backups"),
    }
    values.update({key.replace("__", "."): value for key, value in overrides.items()})
    return build_config({}, values)


AppFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def start_app(aiohttp_client: Any, cpu_backend: CpuBackend, tmp_path: Path) -> AppFactory:
    """Start the real app; keyword overrides use section__key, e.g. server__api_key="k"."""

    async def start(data_dir: Path | None = None, **overrides: Any) -> TestClient[web.Request, web.Application]:
        config = make_config(data_dir or tmp_path, **overrides)
        shared = SharedBackend(cpu_backend)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(
            create_app(config, backend_factory=lambda _name: shared)
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


def image_json(path: Path, **fields: Any) -> dict[str, Any]:
    return {"image": base64.b64encode(path.read_bytes()).decode("ascii"), **fields}
