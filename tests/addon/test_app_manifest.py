"""The repository as a Home Assistant app repository: one valid app, in step with the server and integration."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hailo_face_server import __version__
from hailo_face_server.addon_options import OPTIONS_SCHEMA
from hailo_face_server.detectors.catalog import CPU_DETECTORS
from tests.support import REPO_ROOT, SHARED_DIR

SCHEMA = SHARED_DIR / "schemas" / "addon-config.schema.json"
ADDON = REPO_ROOT / "addon"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(ADDON / "config.yaml")
    return data


def test_the_manifest_is_valid_for_the_linter_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(manifest, schema)
    for key, value in manifest.items():  # the linter also refuses keys set to their default
        default = schema["properties"][key].get("default")
        assert default is None or value != default, f"{key} repeats its default {default!r}"


def test_the_manifest_says_what_this_app_is(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())["properties"]
    assert manifest["slug"] == "hailo_face"
    assert manifest["arch"] == ["aarch64", "amd64"]
    assert manifest["init"] is False  # s6-overlay v3 is PID 1
    assert manifest.get("startup", schema["startup"]["default"]) == "application"
    assert manifest.get("boot", schema["boot"]["default"]) == "auto"
    assert manifest["discovery"] == ["hailo_face"]
    assert manifest["devices"] == ["/dev/hailo0"]
    assert manifest["watchdog"] == "http://[HOST]:[PORT:5002]/health"
    assert set(manifest["ports"]) == set(manifest["ports_description"]) == {"5002/tcp"}
    assert "models" in manifest["backup_exclude"]
    # The web page in the sidebar, served by the API's own server and port.
    assert manifest["ingress"] is True and manifest["ingress_port"] == 5002
    assert (manifest["panel_icon"], manifest["panel_title"]) == ("mdi:face-recognition", "Faces")


def test_versions_are_in_step(manifest: dict[str, Any]) -> None:
    integration = json.loads((REPO_ROOT / "custom_components" / "hailo_face" / "manifest.json").read_text())
    assert manifest["version"] == __version__ == integration["version"]
    assert f'io.hass.version="{__version__}"' in (ADDON / "Dockerfile").read_text()
    assert (ADDON / "CHANGELOG.md").read_text().splitlines()[2] == f"## {__version__}"


def test_every_option_has_a_schema_a_translation_and_the_servers_default(manifest: dict[str, Any]) -> None:
    options, schema = manifest["options"], manifest["schema"]
    assert set(options) == set(schema)
    translations = load_yaml(ADDON / "translations" / "en.yaml")
    assert set(translations["configuration"]) == set(schema)
    for option, text in translations["configuration"].items():
        assert text["name"] and text["description"], option
    assert set(translations["network"]) == set(manifest["ports"])
    assert OPTIONS_SCHEMA({}) == options  # the server's defaults for missing options are the app's
    assert {"backend", "recognition_threshold", "detection_threshold", "max_faces", "min_face_size",
            "api_key", "log_level", "backups"} <= set(options)  # fmt: skip
    assert schema["backend"] == "list(auto|hailo|cpu)"
    # The app offers every CPU detector of the server's catalogue, and nothing else.
    assert schema["cpu_detector"] == f"list({'|'.join(CPU_DETECTORS)})"
    assert schema["api_key"] == "password?"


def test_the_repository_holds_exactly_one_app() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    apps = [p for p in tracked.stdout.split() if Path(p).name in ("config.yaml", "config.yml", "config.json")]
    assert apps == ["addon/config.yaml"]
    repository = load_yaml(REPO_ROOT / "repository.yaml")
    assert set(repository) == {"name", "url", "maintainer"}
    assert all(repository.values())


def test_the_app_folder_has_its_documents_and_images() -> None:
    from PIL import Image

    for name in ("DOCS.md", "CHANGELOG.md", "Dockerfile", "install.sh", "translations/en.yaml"):
        assert (ADDON / name).is_file(), name
    assert Image.open(ADDON / "icon.png").size == (128, 128)
    assert Image.open(ADDON / "logo.png").size == (250, 100)
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert "FROM ghcr.io/home-assistant/base-debian:trixie" in dockerfile
    assert "install.sh --prefix /opt/hailo-face" in dockerfile


def test_the_s6_services_are_laid_out_for_s6_overlay_v3() -> None:
    services = ADDON / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d"
    assert (services / "hailo-face" / "type").read_text().strip() == "longrun"
    assert (services / "discovery" / "type").read_text().strip() == "oneshot"
    assert (services / "discovery" / "dependencies.d" / "hailo-face").exists()
    assert {p.name for p in (services / "user" / "contents.d").iterdir()} == {"hailo-face", "discovery"}
    up = (services / "discovery" / "up").read_text().strip()
    script = ADDON / "rootfs" / up.lstrip("/")
    for executable in (services / "hailo-face" / "run", services / "hailo-face" / "finish", script):
        assert executable.stat().st_mode & 0o111, executable
        assert executable.read_text().startswith("#!/command/with-contenv bashio")
    assert "hailo-face-server --app /data/options.json" in (services / "hailo-face" / "run").read_text()


def test_parameter_ranges_are_the_servers_everywhere(manifest: dict[str, Any]) -> None:
    """ranges.py declares them; the manifest and the integration cannot import it, so they are held to it here."""
    from custom_components.hailo_face.const import MAX_FACES_RANGE
    from hailo_face_server.api.openapi import OPENAPI
    from hailo_face_server.ranges import MAX_FACES, MIN_FACE_SIZE, THRESHOLD

    schema = manifest["schema"]
    assert schema["max_faces"] == f"int({MAX_FACES.low},{MAX_FACES.high})"
    assert schema["min_face_size"] == f"int({MIN_FACE_SIZE.low},{MIN_FACE_SIZE.high})"
    assert (
        schema["recognition_threshold"]
        == schema["detection_threshold"]
        == f"float({THRESHOLD.low:g},{THRESHOLD.high:g})"
    )
    assert (MAX_FACES.low, MAX_FACES.high) == MAX_FACES_RANGE
    recognize = OPENAPI["paths"]["/v1/recognize"]["post"]
    described = {p["name"]: p["schema"] for p in recognize["parameters"]}
    max_faces = described["max_faces"]["anyOf"][0]
    assert (max_faces["minimum"], max_faces["maximum"]) == (MAX_FACES.low, MAX_FACES.high)
