"""The server as a user starts it: the ``hailo-face-server`` command, as a process."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import hailo_fake
from tests.support import SERVER_COMMAND, Faces, free_port


class Server:
    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [SERVER_COMMAND, "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(data_dir), *args],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url(path), data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def wait_ready(self, seconds: float = 30) -> float:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            assert self.process.poll() is None, self.process.communicate()[1]
            try:
                status, _ = self.request("GET", "/health")
                if status == 200:
                    return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("the server did not become ready")

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        _, log = self.process.communicate(timeout=30)
        return self.process.returncode, log


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate()


def start(servers: list[Server], data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    server = Server(data_dir, *args, env=env)
    servers.append(server)
    return server


def image(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_taught_faces_survive_a_restart(tmp_path: Path, running: list[Server], faces: Faces) -> None:
    first = start(running, tmp_path)
    first.wait_ready()
    first_id = first.request("GET", "/health")[1]["server_id"]
    status, body = first.request(
        "POST", "/v1/database/add", {"name": "bernadette", "image": image(faces.person("bernadette", 1))}
    )
    assert status == 201, body
    returncode, log = first.stop()
    assert returncode == 0, log
    assert "Stopping" in log

    second = start(running, tmp_path)
    second.wait_ready()
    status, health = second.request("GET", "/health")
    assert (health["identities"], health["faces"]) == (1, 1)
    assert health["server_id"] == first_id
    status, body = second.request(
        "POST", "/v1/recognize", {"image": image(faces.person("bernadette", 3)), "source": "camera.door"}
    )
    assert body["faces"][0]["name"] == "bernadette"
    sighting_id = body["faces"][0]["sighting_id"]
    assert second.stop()[0] == 0
    # The sightings live in the data folder too, and survive the restart.
    assert (tmp_path / "sightings.db").is_file()
    third = start(running, tmp_path)
    third.wait_ready()
    assert third.request("GET", f"/v1/sightings/{sighting_id}")[1]["name"] == "bernadette"
    assert third.stop()[0] == 0
    backups = sorted((tmp_path / "backups").glob("faces-*.db"))
    assert len(backups) == 2  # one at each start but the first, which had no database to back up


def test_backups_on_start_keep_the_newest_n(tmp_path: Path, running: list[Server], faces: Faces) -> None:
    for _ in range(4):
        server = start(running, tmp_path, "--set", "database.backup_keep=2")
        server.wait_ready()
        if not (tmp_path / "faces.db").exists():
            pytest.fail("the database was not created")
        assert server.stop()[0] == 0
    assert len(list((tmp_path / "backups").glob("faces-*.db"))) == 2


def test_json_logs_carry_request_ids_and_never_the_key(tmp_path: Path, running: list[Server]) -> None:
    server = start(running, tmp_path, "--log-format", "json", "--api-key", "very-secret-key")
    server.wait_ready()
    request = urllib.request.Request(server.url("/v1/info"), headers={"Authorization": "Bearer very-secret-key"})
    with urllib.request.urlopen(request, timeout=10) as response:
        request_id = response.headers["X-Request-ID"]
    _, log = server.stop()
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]
    access = [e for e in entries if e.get("path") == "/v1/info"]
    assert access and access[0]["request_id"] == request_id and access[0]["status"] == 200
    assert "very-secret-key" not in log
    assert any("Ready in" in e["message"] for e in entries)


def test_a_bad_configuration_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "hailo-face.yaml"
    config.write_text("server:\n  port: 5002\nface_recognition:\n  max_faces: -3\n  colour: blue\n")
    result = subprocess.run([SERVER_COMMAND, "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "face_recognition.max_faces" in result.stderr
    assert "face_recognition.colour: unknown key" in result.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path: Path, running: list[Server]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [SERVER_COMMAND, "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr


def test_check_config_prints_the_effective_configuration(tmp_path: Path) -> None:
    result = subprocess.run(
        [SERVER_COMMAND, "--check-config", "--port", "6000", "--api-key", "k"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"HAILO_FACE_PERFORMANCE_MAX_QUEUE_SIZE": "4", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["server"]["port"] == 6000
    assert config["server"]["api_key"] == "***"
    assert config["performance"]["max_queue_size"] == 4


def test_auto_picks_the_hailo_device_when_hailort_is_there(tmp_path: Path, running: list[Server], faces: Faces) -> None:
    model_dir = hailo_fake.write_model_dir(tmp_path / "models")
    env = {"PYTHONPATH": str(hailo_fake.FAKES_DIR), "HAILO_FAKE_ARCH": "HAILO8L"}
    server = start(running, tmp_path, "--backend", "auto", "--set", f"hailo.model_dir={model_dir}", env=env)
    server.wait_ready()
    _, health = server.request("GET", "/health")
    assert (health["backend"], health["backend_details"]["chip"]) == ("hailo", "HAILO8L")
    assert health["models"]["detector"] == "scrfd_2.5g"
    status, body = server.request("POST", "/v1/detect", {"image": image(faces.group("bbt3.jpg"))})
    assert status == 200
    assert len(body["faces"]) == 5
    assert server.stop()[0] == 0


def test_an_explicit_hailo_backend_without_a_device_exits_with_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(hailo_fake.FAKES_DIR), "HAILO_FAKE_ARCH": "none"}
    result = subprocess.run(
        [SERVER_COMMAND, "--port", str(free_port()), "--data-dir", str(tmp_path), "--backend", "hailo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, result.stderr
    assert "Cannot start the hailo backend" in errors[0]
    assert "HAILO_OUT_OF_PHYSICAL_DEVICES" in errors[0]
    assert "Traceback" not in result.stderr
