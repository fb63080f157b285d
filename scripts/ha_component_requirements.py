"""Print the Python requirements of the Home Assistant components the integration depends on.

Home Assistant installs a component's requirements when it loads it; its test
plugin does not, and its own requirements leave some out (the camera's
PyTurboJPEG, for one). Run with the Python that has Home Assistant installed:
``pip install $(python scripts/ha_component_requirements.py)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import homeassistant.components

MANIFEST = Path(__file__).resolve().parents[1] / "custom_components" / "hailo_face" / "manifest.json"
COMPONENTS = Path(homeassistant.components.__path__[0])


def requirements() -> list[str]:
    wanted: list[str] = []
    seen: set[str] = set()
    pending = list(json.loads(MANIFEST.read_text())["dependencies"])
    while pending:
        domain = pending.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = json.loads((COMPONENTS / domain / "manifest.json").read_text())
        wanted += [r for r in manifest.get("requirements", []) if r not in wanted]
        pending += manifest.get("dependencies", [])
    return sorted(wanted)


if __name__ == "__main__":
    print(" ".join(requirements()))
