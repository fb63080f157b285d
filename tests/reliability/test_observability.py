"""Metrics, and the add-on's generated key never reaching the log."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.conftest import Server
from tests.reliability.test_overload import slow_image
from tests.support import FACES_DIR, free_port


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    found = re.search(pattern, text)
    assert found, f"{name}{labels} not in metrics"
    return float(found.group(1))


def test_metrics_count_requests_stages_queue_refusals_and_the_gallery(servers: list[Server], tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    servers.append(server)
    server.wait_ready()
    image = (FACES_DIR / "people" / "amy" / "amy1.png").read_bytes()
    server.request("POST", "/v1/database/add?name=amy", image, {"Content-Type": "image/png"})
    server.request("POST", "/v1/recognize", image, {"Content-Type": "image/png"})
    server.request("POST", "/v1/recognize", b"junk", {"Content-Type": "image/png"})
    status, text = server.request("GET", "/metrics")
    assert status == 200
    text = text.decode()
    assert metric(text, "hailo_face_requests_total", method="POST", route="/v1/recognize", status="200") == 1
    assert metric(text, "hailo_face_requests_total", method="POST", route="/v1/recognize", status="400") == 1
    for stage in ("decode", "queue", "detect", "align", "embed", "search", "total"):
        assert metric(text, "hailo_face_stage_duration_seconds_count", stage=stage) >= 1
    assert metric(text, "hailo_face_queue_depth") == 0
    assert metric(text, "hailo_face_queue_capacity") == 10
    assert metric(text, "hailo_face_gallery_identities") == 1
    assert metric(text, "hailo_face_gallery_faces") == 1
    assert "hailo_face_rejected_requests_total" in text
    assert "hailo_face_backend_errors_total" in text
    assert server.request("GET", "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401


def test_refusals_are_counted(servers: list[Server], tmp_path: Path) -> None:
    # dlib's HOG takes ~0.8 s on this 1080p frame: 8 times the limit, whatever the machine's load.
    server = Server(
        tmp_path / "data", "--set", "performance.request_timeout=0.1", "--set", "face_recognition.cpu_detector=hog"
    )
    servers.append(server)
    server.wait_ready()
    status, _ = server.request("POST", "/v1/recognize", slow_image(), {"Content-Type": "image/jpeg"})
    assert status == 503
    text = server.request("GET", "/metrics")[1].decode()
    assert metric(text, "hailo_face_rejected_requests_total", reason="timeout") == 1


def test_the_apps_generated_key_is_never_logged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "options.json").write_text(json.dumps({"backend": "cpu", "api_key": "", "log_level": "debug"}))
    port = free_port()
    command = str(Path(sys.executable).parent / "hailo-face-server")
    log_file = tmp_path / "server.log"
    with log_file.open("w") as log_output:
        process = subprocess.Popen(
            [command, "--app", str(data / "options.json"), "--host", "127.0.0.1", "--port", str(port)],
            stderr=log_output,
            text=True,
        )
        try:
            # Wait for start-up to finish (everything it logs is then logged), however long it takes here.
            deadline = time.monotonic() + 120
            while "Ready in" not in log_file.read_text():
                assert process.poll() is None, log_file.read_text()
                assert time.monotonic() < deadline, f"the server did not become ready: {log_file.read_text()}"
                time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(timeout=30)
    log = log_file.read_text()
    key = (data / "api_key").read_text().strip()
    assert len(key) > 30
    assert "Ready in" in log
    assert key not in log
