"""Configuration: the seed's YAML layout, environment and command-line overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hailo_face_server.cli import build_parser, cli_overrides
from hailo_face_server.config import ConfigError, build_config, load_config


def test_defaults() -> None:
    config = build_config()
    assert (config.server.host, config.server.port, config.server.api_key) == ("0.0.0.0", 5002, "")
    assert config.face_recognition.backend == "auto"
    assert config.face_recognition.min_face_size == 40
    assert config.database.db_file == Path("data/faces.db")
    assert config.performance.max_queue_size == 10
    assert config.logging.format == "text"


def test_file_then_environment_then_command_line(tmp_path: Path) -> None:
    path = tmp_path / "hailo-face.yaml"
    path.write_text(
        "server:\n  port: 6000\n  api_key: from-file\n"
        "face_recognition:\n  recognition_threshold: 0.6\n"
        "database:\n  backup_enabled: false\n"
        "logging:\n  level: debug\n  format: json\n"
    )
    environ = {"HAILO_FACE_SERVER_PORT": "6001", "HAILO_FACE_FACE_RECOGNITION_MAX_FACES": "3"}
    args = build_parser().parse_args(["--config", str(path), "--port", "6002", "--set", "performance.max_queue_size=7"])
    config = load_config(args.config, cli_overrides(args), environ)
    assert config.server.port == 6002
    assert config.server.api_key == "from-file"
    assert config.face_recognition.recognition_threshold == 0.6
    assert config.face_recognition.max_faces == 3
    assert config.database.backup_enabled is False
    assert config.performance.max_queue_size == 7
    assert (config.logging.level, config.logging.format) == ("DEBUG", "json")


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "hailo-face.yaml"
    path.write_text("server:\n  port: 7000\n")
    assert load_config(None, {}, {"HAILO_FACE_CONFIG": str(path)}).server.port == 7000


def test_data_dir_sets_the_database_and_backups() -> None:
    args = build_parser().parse_args(["--data-dir", "/srv/faces"])
    config = load_config(None, cli_overrides(args), {})
    assert config.database.db_file == Path("/srv/faces/faces.db")
    assert config.database.backup_path == Path("/srv/faces/backups")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"server.port": "0"}, "server.port"),
        ({"server.port": "http"}, "server.port: expected an integer"),
        ({"server.colour": "blue"}, "server.colour: unknown key"),
        ({"face_recognition.backend": "gpu"}, "face_recognition.backend: expected one of auto, cpu"),
        ({"face_recognition.recognition_threshold": "1.5"}, "face_recognition.recognition_threshold"),
        ({"database.backup_enabled": "maybe"}, "database.backup_enabled: expected a boolean"),
        ({"logging.level": "loud"}, "logging.level"),
        ({"nonsense.key": "1"}, "nonsense: unknown key"),
    ],
)
def test_bad_values_name_the_key(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        build_config({}, overrides)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        build_config({"server": {"port": -1, "extra": 1}, "logging": "loud"})
    text = str(raised.value)
    assert "server.port" in text and "server.extra: unknown key" in text and "logging: expected a mapping" in text


def test_unknown_environment_variables_are_errors() -> None:
    with pytest.raises(ConfigError, match="HAILO_FACE_PORT"):
        load_config(None, {}, {"HAILO_FACE_PORT": "5002"})


def test_a_file_that_is_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "a.yaml"
    broken.write_text("server: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken, {}, {})
    listing = tmp_path / "b.yaml"
    listing.write_text("- one\n- two\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listing, {}, {})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml", {}, {})


def test_describe_hides_the_api_key() -> None:
    described = build_config({}, {"server.api_key": "secret"}).describe()
    assert described["server"]["api_key"] == "***"
    assert described["database"]["db_file"] == "data/faces.db"


def test_the_documented_example_is_the_defaults() -> None:
    example = load_config(Path(__file__).parents[2] / "docs" / "hailo-face.example.yaml", {}, {})
    assert example == build_config()
