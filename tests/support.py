"""Shared by the server and the integration tests: the photographs, config and backend helpers."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import os
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hailo_face_server.backends.base import FaceBackend
from hailo_face_server.config import Config, build_config

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_shared_dir() -> Path:
    """The workspace's ``shared/`` folder: beside the repository, or beside the checkout it was cloned from."""
    beside = REPO_ROOT.parent / "shared"
    if beside.is_dir():
        return beside
    try:
        origin = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "remote", "get-url", "origin"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return beside
    if origin and Path(origin).is_dir():
        cloned_from = Path(origin).resolve().parent / "shared"
        if cloned_from.is_dir():
            return cloned_from
    return beside


SHARED_DIR = find_shared_dir()
# Resolved: Home Assistant compares a file's real path with its allowlisted folders, and
# ../shared may be a link (scripts/test-ha-latest makes one beside a clone).
FACES_DIR = Path(os.environ.get("TEST_FACES_DIR", SHARED_DIR / "faces")).resolve()
# The fake HailoRT (tests/fakes), here and in the server processes tests start, reads the same photographs.
os.environ["TEST_FACES_DIR"] = str(FACES_DIR)
# The server's command, as users start it, from the environment running the tests.
SERVER_COMMAND = str(Path(sys.executable).parent / "hailo-face-server")
PEOPLE = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart")


async def wait_until(condition: Callable[[], bool | Awaitable[bool]], what: str, seconds: float = 30.0) -> None:
    """Wait (yielding to the event loop) until ``condition()`` holds; fail after a generous deadline.

    ``condition`` may be a coroutine function (e.g. one that asks the server).
    """
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return
        assert asyncio.get_running_loop().time() < deadline, f"timed out after {seconds} s waiting for {what}"
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


class SharedBackend(FaceBackend):
    """The real CPU backend's parts, loaded once per test session and shared by the apps under test."""

    def __init__(self, backend: FaceBackend) -> None:
        self.inner = backend
        self.__dict__.update(backend.__dict__)

    def close(self) -> None:
        """The session's backend outlives each app."""


def make_config(data_dir: Path, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "database.db_file": str(data_dir / "faces.db"),
        "database.backup_path": str(data_dir / "backups"),
        "sightings.db_file": str(data_dir / "sightings.db"),
    }
    values.update({key.replace("__", "."): value for key, value in overrides.items()})
    return build_config({}, values)


def image_json(path: Path, **fields: Any) -> dict[str, Any]:
    return {"image": base64.b64encode(path.read_bytes()).decode("ascii"), **fields}


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
