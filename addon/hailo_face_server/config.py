"""Server configuration: the seed's YAML layout, validated with voluptuous.

Sources, later ones winning: built-in defaults, a YAML file, ``HAILO_FACE_*``
environment variables, command-line overrides.  Every value from the
environment or the command line is a string and is coerced here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from hailo_face_server.detectors.catalog import CPU_DETECTORS
from hailo_face_server.ranges import MAX_FACES, MIN_FACE_SIZE, THRESHOLD
from hailo_face_server.validation import (
    address_list,
    boolean,
    describe_invalid,
    float_range,
    int_range,
    one_of,
    text,
    word_list,
)

DEFAULT_MODEL_ZOO_URL = "https://hailo-model-zoo.s3.eu-west-2.amazonaws.com/ModelZoo/Compiled"
ENV_PREFIX = "HAILO_FACE_"
ENV_CONFIG_FILE = "HAILO_FACE_CONFIG"

BACKENDS = ("auto", "cpu", "hailo")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


SCHEMA = vol.Schema(
    {
        vol.Optional("server", default={}): {
            vol.Optional("host", default="0.0.0.0"): vol.All(text, vol.Length(min=1)),
            vol.Optional("port", default=5002): int_range(1, 65535),
            vol.Optional("api_key", default=""): text,
            vol.Optional("max_body_mb", default=10.0): float_range(0.1, 200.0),
            vol.Optional("max_image_megapixels", default=40.0): float_range(0.1, 400.0),
            vol.Optional("max_import_mb", default=500.0): float_range(1.0, 10_000.0),
            vol.Optional("body_timeout", default=30.0): float_range(1.0, 3600.0),
            vol.Optional("allowed_origins", default=""): word_list,
            vol.Optional("allowed_hosts", default=""): word_list,
            vol.Optional("ingress_proxies", default=""): address_list,
        },
        vol.Optional("face_recognition", default={}): {
            vol.Optional("backend", default="auto"): one_of(BACKENDS),
            vol.Optional("detection_threshold", default=0.5): float_range(THRESHOLD.low, THRESHOLD.high),
            vol.Optional("recognition_threshold", default=0.5): float_range(THRESHOLD.low, THRESHOLD.high),
            vol.Optional("max_faces", default=10): int_range(MAX_FACES.low, MAX_FACES.high),
            vol.Optional("min_face_size", default=40): int_range(MIN_FACE_SIZE.low, MIN_FACE_SIZE.high),
            vol.Optional("cpu_descriptor", default="onnxruntime"): one_of(("onnxruntime", "dlib")),
            vol.Optional("cpu_detector", default="yunet"): one_of(tuple(CPU_DETECTORS)),
        },
        vol.Optional("hailo", default={}): {
            vol.Optional("model_dir", default="data/models"): vol.All(text, vol.Length(min=1)),
            vol.Optional("detection_hef", default=""): text,
            vol.Optional("recognition_hef", default=""): text,
            vol.Optional("timeout_ms", default=5000): int_range(100, 600_000),
            vol.Optional("download_missing", default=False): boolean,
            vol.Optional("model_zoo_url", default=DEFAULT_MODEL_ZOO_URL): vol.All(text, vol.Length(min=1)),
            vol.Optional("multi_process_service", default=False): boolean,
        },
        vol.Optional("database", default={}): {
            vol.Optional("db_file", default="data/faces.db"): vol.All(text, vol.Length(min=1)),
            vol.Optional("backup_enabled", default=True): boolean,
            vol.Optional("backup_path", default="data/backups"): vol.All(text, vol.Length(min=1)),
            vol.Optional("backup_keep", default=5): int_range(1, 1000),
            vol.Optional("max_samples_per_person", default=200): int_range(1, 100_000),
            vol.Optional("max_gallery_mb", default=1000.0): float_range(1.0, 1_000_000.0),
        },
        vol.Optional("sightings", default={}): {
            vol.Optional("enabled", default=True): boolean,
            vol.Optional("db_file", default="data/sightings.db"): vol.All(text, vol.Length(min=1)),
            vol.Optional("keep_unknown_days", default=7.0): float_range(0.01, 3650.0),
            vol.Optional("keep_named_days", default=2.0): float_range(0.01, 3650.0),
            vol.Optional("max_sightings", default=5000): int_range(10, 1_000_000),
            vol.Optional("max_mb", default=200.0): float_range(1.0, 100_000.0),
            vol.Optional("merge_window_s", default=60.0): float_range(0.0, 3600.0),
        },
        vol.Optional("performance", default={}): {
            vol.Optional("worker_threads", default=2): int_range(1, 64),
            vol.Optional("max_queue_size", default=10): int_range(1, 1000),
            vol.Optional("request_timeout", default=30.0): float_range(0.1, 3600.0),
            vol.Optional("max_decode_mb", default=1024): int_range(64, 65536),
            vol.Optional("warmup_enabled", default=False): boolean,
        },
        vol.Optional("logging", default={}): {
            vol.Optional("level", default="INFO"): one_of(LOG_LEVELS, upper=True),
            vol.Optional("format", default="text"): one_of(LOG_FORMATS),
        },
    }
)


@dataclass(frozen=True)
class ServerConfig:
    host: str
    port: int
    api_key: str
    max_body_mb: float
    max_image_megapixels: float
    max_import_mb: float
    body_timeout: float  # seconds a client may take to send a request body
    allowed_origins: tuple[str, ...]  # browser origins allowed to change data besides the server's own
    allowed_hosts: tuple[str, ...]  # Host header values accepted (empty: any)
    # Peer addresses whose requests Home Assistant has already authenticated (its
    # ingress proxy: the Supervisor at 172.30.32.2 in the app); empty standalone.
    ingress_proxies: tuple[str, ...]

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def max_image_pixels(self) -> int:
        return int(self.max_image_megapixels * 1_000_000)


@dataclass(frozen=True)
class FaceRecognitionConfig:
    backend: str
    detection_threshold: float
    recognition_threshold: float
    max_faces: int
    min_face_size: int
    cpu_descriptor: str  # onnxruntime (dlib's ResNet converted once) or dlib
    cpu_detector: str  # yunet (OpenCV Zoo's, on onnxruntime) or hog (dlib's)


@dataclass(frozen=True)
class HailoConfig:
    model_dir: Path
    detection_hef: str  # empty: the file for the detected chip in model_dir
    recognition_hef: str
    timeout_ms: int
    download_missing: bool  # fetch a missing HEF from the Model Zoo (the app does)
    model_zoo_url: str
    multi_process_service: bool  # share the Hailo through HailoRT's service (hailort.service must run)


@dataclass(frozen=True)
class DatabaseConfig:
    db_file: Path
    backup_enabled: bool
    backup_path: Path
    backup_keep: int
    max_samples_per_person: int
    max_gallery_mb: float


@dataclass(frozen=True)
class SightingsConfig:
    enabled: bool  # keep the faces /v1/recognize returns for a `source`
    db_file: Path  # their own SQLite file, apart from the gallery
    keep_unknown_days: float
    keep_named_days: float  # named and ignored ones
    max_sightings: int
    max_mb: float
    merge_window_s: float  # the same face from the same source within this is one sighting

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


@dataclass(frozen=True)
class PerformanceConfig:
    worker_threads: int
    max_queue_size: int
    request_timeout: float
    warmup_enabled: bool
    max_decode_mb: int  # memory all images being decoded at once may hold


@dataclass(frozen=True)
class LoggingConfig:
    level: str
    format: str


@dataclass(frozen=True)
class Config:
    server: ServerConfig
    face_recognition: FaceRecognitionConfig
    hailo: HailoConfig
    database: DatabaseConfig
    performance: PerformanceConfig
    logging: LoggingConfig
    sightings: SightingsConfig

    def describe(self) -> dict[str, dict[str, Any]]:
        """The effective configuration as plain data, with the API key hidden."""
        described: dict[str, dict[str, Any]] = {}
        for section in SECTION_NAMES:
            values = dict(vars(getattr(self, section)))
            for key, value in values.items():
                if isinstance(value, Path):
                    values[key] = str(value)
            for key, value in values.items():
                if isinstance(value, tuple):
                    values[key] = ",".join(value)
            described[section] = values
        if described["server"]["api_key"]:
            described["server"]["api_key"] = "***"
        return described


SECTION_NAMES = ("server", "face_recognition", "hailo", "database", "sightings", "performance", "logging")


def _set_dotted(target: dict[str, Any], dotted_key: str, value: Any) -> None:
    section, _, key = dotted_key.partition(".")
    if not section or not key or "." in key:
        raise ConfigError(f"{dotted_key}: expected section.key, for example server.port")
    existing = target.setdefault(section, {})
    if not isinstance(existing, dict):
        raise ConfigError(f"{section}: expected a mapping of keys to values")
    existing[key] = value


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read configuration file {path}: {err.strerror}") from err
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as err:
        raise ConfigError(f"configuration file {path} is not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path} must contain a mapping of sections")
    return data


def environment_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Map ``HAILO_FACE_<SECTION>_<KEY>`` variables to ``section.key`` overrides."""
    overrides: dict[str, str] = {}
    sections = sorted(SECTION_NAMES, key=len, reverse=True)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_FILE:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            raise ConfigError(
                f"environment variable {name}: expected HAILO_FACE_<SECTION>_<KEY> "
                f"with a section among {', '.join(SECTION_NAMES)}"
            )
        overrides[f"{section}.{rest[len(section) + 1 :]}"] = value
    return overrides


def build_config(
    file_data: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Validate file data plus ``section.key`` overrides into a Config."""
    merged: dict[str, Any] = {}
    for section, values in (file_data or {}).items():
        merged[section] = dict(values) if isinstance(values, dict) else values
    for dotted_key, value in (overrides or {}).items():
        _set_dotted(merged, dotted_key, value)
    try:
        data = SCHEMA(merged)
    except vol.MultipleInvalid as err:
        messages = sorted({describe_invalid(e) for e in err.errors})
        raise ConfigError("invalid configuration: " + "; ".join(messages)) from err
    database = dict(data["database"])
    database["db_file"] = Path(database["db_file"])
    database["backup_path"] = Path(database["backup_path"])
    return Config(
        server=ServerConfig(**data["server"]),
        face_recognition=FaceRecognitionConfig(**data["face_recognition"]),
        hailo=HailoConfig(**{**data["hailo"], "model_dir": Path(data["hailo"]["model_dir"])}),
        database=DatabaseConfig(**database),
        performance=PerformanceConfig(**data["performance"]),
        logging=LoggingConfig(**data["logging"]),
        sightings=SightingsConfig(**{**data["sightings"], "db_file": Path(data["sightings"]["db_file"])}),
    )


def load_config(
    config_file: Path | None = None,
    cli_overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    app_overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Defaults, then the file, the app's options, the environment, the command line."""
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get(ENV_CONFIG_FILE):
        config_file = Path(environ[ENV_CONFIG_FILE])
    file_data = read_config_file(config_file) if config_file is not None else {}
    overrides: dict[str, Any] = dict(app_overrides or {})
    overrides.update(environment_overrides(environ))
    overrides.update(cli_overrides or {})
    return build_config(file_data, overrides)
