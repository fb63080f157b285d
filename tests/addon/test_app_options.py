"""The app's options (/data/options.json) become the server's configuration, in Python."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hailo_face_server.addon_options import addon_overrides, effective_api_key
from hailo_face_server.config import ConfigError, load_config
from tests.support import SERVER_COMMAND

DEFAULTS: dict[str, Any] = {
    "backend": "auto",
    "cpu_detector": "yunet",
    "recognition_threshold": 0.5,
    "detection_threshold": 0.5,
    "max_faces": 10,
    "min_face_size": 40,
    "api_key": "",
    "log_level": "info",
    "backups": True,
    "backups_keep": 5,
}


def write_options(data_dir: Path, **changes: Any) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "options.json"
    path.write_text(json.dumps({**DEFAULTS, **changes}))
    return path


def test_every_option_lands_in_its_key(tmp_path: Path) -> None:
    options = write_options(
        tmp_path,
        backend="hailo",
        cpu_detector="hog",
        recognition_threshold=0.7,
        detection_threshold=0.6,
        max_faces=4,
        min_face_size=60,
        api_key="from-the-ui",
        log_level="debug",
        backups=False,
        backups_keep=9,
    )
    config = load_config(None, {}, {}, app_overrides=addon_overrides(options))
    assert (config.server.host, config.server.port, config.server.api_key) == ("0.0.0.0", 5002, "from-the-ui")
    assert config.server.ingress_proxies == ("172.30.32.2",)  # the Supervisor: Home Assistant's ingress proxy
    face = config.face_recognition
    assert (face.backend, face.recognition_threshold, face.detection_threshold) == ("hailo", 0.7, 0.6)
    assert (face.max_faces, face.min_face_size) == (4, 60)
    assert face.cpu_detector == "hog"
    assert config.database.db_file == tmp_path / "faces.db"
    assert config.database.backup_path == tmp_path / "backups"
    assert (config.database.backup_enabled, config.database.backup_keep) == (False, 9)
    assert config.hailo.model_dir == tmp_path / "models"
    assert config.hailo.download_missing is True
    assert (config.logging.level, config.logging.format) == ("DEBUG", "text")


def test_an_empty_key_is_generated_once_kept_private_and_handed_to_discovery(tmp_path: Path) -> None:
    options = write_options(tmp_path)
    first = addon_overrides(options)["server.api_key"]
    assert len(first) >= 40
    key_file = tmp_path / "api_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert addon_overrides(options)["server.api_key"] == first  # kept across restarts
    write_options(tmp_path, api_key="chosen")
    assert addon_overrides(options)["server.api_key"] == "chosen"
    assert key_file.read_text().strip() == "chosen"  # discovery hands over the key in use
    assert effective_api_key("  ", tmp_path) == "chosen"  # emptied again: the last key stays


def test_options_missing_from_an_older_app_get_defaults(tmp_path: Path) -> None:
    path = tmp_path / "options.json"
    path.write_text(json.dumps({"backend": "cpu", "some_future_option": 1}))
    overrides = addon_overrides(path)
    assert overrides["face_recognition.backend"] == "cpu"
    assert overrides["face_recognition.max_faces"] == 10


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"backend": "gpu"}', "backend: expected one of auto, hailo, cpu"),
        ('{"max_faces": 0}', "max_faces"),
        ("[1, 2]", "must be a JSON object"),
        ("{broken", "not valid JSON"),
    ],
)
def test_bad_options_stop_start_up_naming_the_option(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "options.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        addon_overrides(path)


def test_the_command_line_flag_as_the_app_runs_it(tmp_path: Path) -> None:
    options = write_options(tmp_path / "data", backend="cpu", min_face_size=80)
    result = subprocess.run(
        [SERVER_COMMAND, "--app", str(options), "--check-config"], capture_output=True, text=True, check=True
    )
    config = json.loads(result.stdout)
    assert config["face_recognition"]["min_face_size"] == 80
    assert config["database"]["db_file"] == str(tmp_path / "data" / "faces.db")
    assert config["server"]["api_key"] == "***"
    missing = subprocess.run([SERVER_COMMAND, "--app", str(tmp_path / "nope.json")], capture_output=True, text=True)
    assert missing.returncode == 2
    assert "cannot read the app options" in missing.stderr
