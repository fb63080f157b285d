"""The Home Assistant app's options (``/data/options.json``) as server configuration.

The Supervisor writes the options the user set in the app's UI; this module
turns them into ``section.key`` overrides, generates and keeps an API key
when none is set, and puts every file under the app's ``/data``.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import voluptuous as vol

from hailo_face_server.config import ConfigError
from hailo_face_server.detectors.catalog import CPU_DETECTORS
from hailo_face_server.ranges import MAX_FACES, MIN_FACE_SIZE, THRESHOLD
from hailo_face_server.validation import boolean, describe_invalid, float_range, int_range, one_of, text

ADDON_PORT = 5002
API_KEY_FILE = "api_key"
# The Supervisor's address on its internal network: Home Assistant's ingress
# proxy, which lets through only users Home Assistant has signed in.
SUPERVISOR_INGRESS_ADDRESS = "172.30.32.2"

OPTIONS_SCHEMA = vol.Schema(
    {
        vol.Optional("backend", default="auto"): one_of(("auto", "hailo", "cpu")),
        vol.Optional("cpu_detector", default="yunet"): one_of(tuple(CPU_DETECTORS)),
        vol.Optional("recognition_threshold", default=0.5): float_range(THRESHOLD.low, THRESHOLD.high),
        vol.Optional("detection_threshold", default=0.5): float_range(THRESHOLD.low, THRESHOLD.high),
        vol.Optional("max_faces", default=10): int_range(MAX_FACES.low, MAX_FACES.high),
        vol.Optional("min_face_size", default=40): int_range(MIN_FACE_SIZE.low, MIN_FACE_SIZE.high),
        vol.Optional("api_key", default=""): text,
        vol.Optional("log_level", default="info"): one_of(("debug", "info", "warning", "error")),
        vol.Optional("backups", default=True): boolean,
        vol.Optional("backups_keep", default=5): int_range(1, 100),
        vol.Optional("sightings", default=True): boolean,
        vol.Optional("keep_unknown_days", default=7): int_range(1, 365),
        vol.Optional("keep_named_days", default=2): int_range(1, 365),
        vol.Optional("max_sightings", default=5000): int_range(100, 100_000),
    },
    extra=vol.REMOVE_EXTRA,
)


def read_options(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read the app options {path}: {err.strerror}") from err
    except ValueError as err:
        raise ConfigError(f"the app options {path} are not valid JSON: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"the app options {path} must be a JSON object")
    try:
        return dict(OPTIONS_SCHEMA(raw))
    except vol.MultipleInvalid as err:
        messages = sorted(describe_invalid(e) for e in err.errors)
        raise ConfigError("invalid app options: " + "; ".join(messages)) from err


def effective_api_key(configured: str, data_dir: Path) -> str:
    """The configured key, or one generated once and kept in the data folder.

    The key in use is also written to ``<data>/api_key`` (mode 0600) for the
    discovery script that hands it to Home Assistant.
    """
    key_file = data_dir / API_KEY_FILE
    key = configured.strip()
    if not key:
        try:
            key = key_file.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            key = ""
    if not key:
        key = secrets.token_urlsafe(32)
    current = key_file.read_text(encoding="ascii", errors="replace").strip() if key_file.exists() else None
    if current != key:
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(key + "\n")
    return key


def addon_overrides(options_file: Path) -> dict[str, Any]:
    """``section.key`` overrides for the server inside the app, from its options file."""
    options = read_options(options_file)
    data_dir = options_file.parent
    return {
        "server.host": "0.0.0.0",
        "server.port": ADDON_PORT,
        "server.api_key": effective_api_key(options["api_key"], data_dir),
        "server.ingress_proxies": SUPERVISOR_INGRESS_ADDRESS,
        "face_recognition.backend": options["backend"],
        "face_recognition.cpu_detector": options["cpu_detector"],
        "face_recognition.recognition_threshold": options["recognition_threshold"],
        "face_recognition.detection_threshold": options["detection_threshold"],
        "face_recognition.max_faces": options["max_faces"],
        "face_recognition.min_face_size": options["min_face_size"],
        "hailo.model_dir": str(data_dir / "models"),
        "hailo.download_missing": True,
        "database.db_file": str(data_dir / "faces.db"),
        "database.backup_enabled": options["backups"],
        "database.backup_path": str(data_dir / "backups"),
        "database.backup_keep": options["backups_keep"],
        "sightings.enabled": options["sightings"],
        "sightings.db_file": str(data_dir / "sightings.db"),
        "sightings.keep_unknown_days": options["keep_unknown_days"],
        "sightings.keep_named_days": options["keep_named_days"],
        "sightings.max_sightings": options["max_sightings"],
        "logging.level": options["log_level"].upper(),
        "logging.format": "text",
    }
