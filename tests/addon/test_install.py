"""The app's install script, as CI can run it, and what it installs, started as the app starts it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, free_port

INSTALL = REPO_ROOT / "addon" / "install.sh"
DISCOVERY = REPO_ROOT / "addon" / "rootfs" / "etc" / "s6-overlay" / "scripts" / "discovery"
UNIT = REPO_ROOT / "deploy" / "systemd" / "hailo-face.service"
BASHIO_STUB = REPO_ROOT / "tests" / "fakes" / "bashio.sh"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """install.sh without apt and HailoRT (no root, no network to GitHub here) into a fresh prefix."""
    prefix = tmp_path_factory.mktemp("prefix")
    result = subprocess.run(
        [str(INSTALL), "--prefix", str(prefix), "--python", sys.executable, "--no-system-packages", "--no-hailort"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== install.sh: check" in result.stdout
    return prefix


def get(url: str, key: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def app_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "options.json").write_text(json.dumps({"backend": "cpu", "api_key": "", "log_level": "info"}))
    return data


@pytest.fixture
def running_app(installed: Path, app_data: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """The installed server started as the app's s6 run script starts it (on a free port)."""
    port = free_port()
    process = subprocess.Popen(
        [str(installed / "venv" / "bin" / "hailo-face-server"), "--app", str(app_data / "options.json"),
         "--host", "127.0.0.1", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1]
            try:
                if get(f"http://127.0.0.1:{port}/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        yield port, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_the_installed_server_runs_as_the_app(running_app: tuple[int, subprocess.Popen[str]], app_data: Path) -> None:
    port, _ = running_app
    status, health = get(f"http://127.0.0.1:{port}/health")
    assert (status, health["status"], health["backend"]) == (200, "ok", "cpu")
    key = (app_data / "api_key").read_text().strip()
    assert get(f"http://127.0.0.1:{port}/v1/info")[0] == 401
    assert get(f"http://127.0.0.1:{port}/v1/info", key)[0] == 200
    assert (app_data / "faces.db").exists()
    # The web page ships with the package: its frame, styles and scripts (here, not from ingress: the key form).
    for path, kind in (("/login", "text/html"), ("/static/app.css", "text/css"), ("/static/review.js", "javascript")):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            assert response.status == 200 and kind in response.headers["Content-Type"], path


def test_unused_models_are_pruned(installed: Path) -> None:
    site = next((installed / "venv" / "lib").glob("python3*/site-packages"))
    models = {p.name for p in (site / "face_recognition_models" / "models").iterdir()}
    assert models == {"shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"}


def test_discovery_hands_the_running_server_to_home_assistant(
    running_app: tuple[int, subprocess.Popen[str]], app_data: Path, tmp_path: Path
) -> None:
    port, _ = running_app
    posted = tmp_path / "discovery.json"
    env = {
        **os.environ,
        "BASH_ENV": str(BASHIO_STUB),
        "BASHIO_DISCOVERY_FILE": str(posted),
        "HAILO_FACE_DATA": str(app_data),
        "HAILO_FACE_HEALTH_URL": f"http://127.0.0.1:{port}/health",
    }
    result = subprocess.run(["bash", str(DISCOVERY)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Home Assistant was told about Hailo Face" in result.stdout
    sent = json.loads(posted.read_text())
    assert sent["service"] == "hailo_face"
    assert sent["config"] == {
        "host": socket.gethostname(),
        "port": 5002,
        "api_key": (app_data / "api_key").read_text().strip(),
    }


def test_discovery_gives_up_politely_when_the_server_never_answers(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BASH_ENV": str(BASHIO_STUB),
        "BASHIO_DISCOVERY_FILE": str(tmp_path / "discovery.json"),
        "HAILO_FACE_DATA": str(tmp_path),
        "HAILO_FACE_HEALTH_URL": f"http://127.0.0.1:{free_port()}/health",
        "HAILO_FACE_DISCOVERY_WAIT": "2",
    }
    result = subprocess.run(["bash", str(DISCOVERY)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0
    assert "not ready after 2 s" in result.stdout
    assert not (tmp_path / "discovery.json").exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_systemd_unit_verifies(installed: Path, tmp_path: Path) -> None:
    unit = tmp_path / "hailo-face.service"
    binary = str(installed / "venv" / "bin" / "hailo-face-server")
    unit.write_text(UNIT.read_text().replace("/opt/hailo-face/venv/bin/hailo-face-server", binary))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert (result.returncode, result.stderr.strip()) == (0, "")
    text = UNIT.read_text()
    for setting in ("Type=simple", "User=hailo-face", "SupplementaryGroups=video", "StateDirectory=hailo-face",
                    "MemoryMax=3G", "CPUQuota=80%", "Restart=always", "TimeoutStartSec=120"):  # fmt: skip
        assert setting in text, setting


def test_the_compose_file_runs_the_same_image_with_the_device() -> None:
    import yaml

    compose = yaml.safe_load((REPO_ROOT / "deploy" / "compose" / "compose.yaml").read_text())
    service = compose["services"]["hailo-face"]
    assert (REPO_ROOT / "deploy" / "compose" / service["build"]).resolve() == REPO_ROOT / "addon"
    assert "/dev/hailo0:/dev/hailo0" in service["devices"]
    assert service["entrypoint"] == ["/opt/hailo-face/venv/bin/hailo-face-server"]
    assert any(volume.endswith(":/data") for volume in service["volumes"])
