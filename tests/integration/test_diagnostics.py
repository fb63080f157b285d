"""Diagnostics: useful to share, with the API key and people's names left out."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant

from custom_components.hailo_face.const import DOMAIN
from custom_components.hailo_face.diagnostics import async_get_config_entry_diagnostics
from tests.integration.conftest import RunningServer, mock_entry, set_up
from tests.support import Faces


async def test_diagnostics_redact_the_key_and_names(
    hass: HomeAssistant, hailo_server: RunningServer, faces: Faces
) -> None:
    await hailo_server.teach("bernadette", faces.person("bernadette", 1))
    await set_up(hass, mock_entry(hailo_server))
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    report = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(report)
    assert hailo_server.api_key not in text
    assert "bernadette" not in text
    assert report["entry"]["data"]["api_key"] == "**REDACTED**"
    assert report["identities"] == {"people": 1, "samples": 1, "usable_samples": 1}
    assert report["health"]["status"] == "ok"
    assert report["server_info"]["backend"] == "cpu"
