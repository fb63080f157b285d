"""What HACS and Home Assistant read from the package: manifest, hacs.json, translations, actions."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "custom_components" / "hailo_face"


def load(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())


def test_manifest_has_everything_hacs_and_home_assistant_need() -> None:
    manifest = load(PACKAGE / "manifest.json")
    for key in (
        "domain",
        "name",
        "version",
        "codeowners",
        "documentation",
        "issue_tracker",
        "iot_class",
        "integration_type",
        "config_flow",
        "dependencies",
    ):
        assert manifest.get(key) not in (None, "", []), key
    assert manifest["domain"] == PACKAGE.name
    assert "image_processing" in manifest["dependencies"]
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_polling"
    server = (ROOT / "addon" / "hailo_face_server" / "__init__.py").read_text()
    assert f'__version__ = "{manifest["version"]}"' in server
    hacs = load(ROOT / "hacs.json")
    assert hacs["name"] == manifest["name"]
    assert hacs["homeassistant"] == "2025.4.0"


def test_translations_are_the_strings() -> None:
    assert load(PACKAGE / "translations" / "en.json") == load(PACKAGE / "strings.json")
    assert "[%key:" not in (PACKAGE / "translations" / "en.json").read_text()


def test_every_action_and_field_is_translated_and_has_an_icon() -> None:
    services = load(PACKAGE / "services.yaml")
    strings = load(PACKAGE / "strings.json")["services"]
    icons = load(PACKAGE / "icons.json")["services"]
    assert set(services) == set(strings) == set(icons) == {"teach", "forget", "list", "label", "reject"}
    for service, spec in services.items():
        assert set(spec["fields"]) == set(strings[service]["fields"]), service
        assert strings[service]["name"] and strings[service]["description"]


BRONZE_TO_GOLD = {
    # Bronze
    "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow-test-coverage", "config-flow",
    "dependency-transparency", "docs-actions", "docs-high-level-description", "docs-installation-instructions",
    "docs-removal-instructions", "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data",
    "test-before-configure", "test-before-setup", "unique-config-entry",
    # Silver
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters", "docs-installation-parameters",
    "entity-unavailable", "integration-owner", "log-when-unavailable", "parallel-updates", "reauthentication-flow",
    "test-coverage",
    # Gold
    "devices", "diagnostics", "discovery-update-info", "discovery", "docs-data-update", "docs-examples",
    "docs-known-limitations", "docs-supported-devices", "docs-supported-functions", "docs-troubleshooting",
    "docs-use-cases", "dynamic-devices", "entity-category", "entity-device-class", "entity-disabled-by-default",
    "entity-translations", "exception-translations", "icon-translations", "reconfiguration-flow", "repair-issues",
    "stale-devices",
}  # fmt: skip


def test_the_quality_scale_names_every_rule_and_explains_each_exception() -> None:
    rules = load(PACKAGE / "quality_scale.yaml")["rules"]
    assert set(rules) >= BRONZE_TO_GOLD
    for rule, status in rules.items():
        if isinstance(status, dict):
            assert status["status"] in {"exempt", "todo"} and status["comment"].strip(), rule
        else:
            assert status == "done", rule
    # Every platform says how many updates may run at once.
    for platform in ("binary_sensor", "event", "image", "image_processing", "sensor"):
        assert "PARALLEL_UPDATES = 0" in (PACKAGE / f"{platform}.py").read_text(), platform


def test_the_brand_images_have_home_assistants_sizes() -> None:
    from PIL import Image

    brand = PACKAGE / "brand"
    sizes = {path.name: Image.open(path).size for path in brand.glob("*.png")}
    assert sizes["icon.png"] == (256, 256) and sizes["icon@2x.png"] == (512, 512)
    for name in ("logo", "dark_logo"):
        assert sizes[f"{name}.png"][1] == 128 and sizes[f"{name}@2x.png"][1] == 256
