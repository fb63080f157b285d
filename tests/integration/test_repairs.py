"""Repair issues: the server fell back to the CPU, or runs degraded; gone when it recovers."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from custom_components.hailo_face.const import DOMAIN
from hailo_face_server.backends.base import Fallback
from tests.integration.conftest import RunningServer, mock_entry, set_up


async def refresh(hass: HomeAssistant) -> None:
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_a_fallback_to_the_cpu_is_a_repair_issue_until_it_recovers(
    hass: HomeAssistant, hailo_server: RunningServer
) -> None:
    await hailo_server.stop()
    hailo_server.fallback = Fallback("hailo", "device_busy", "another app (e.g. Frigate) holds the Hailo")
    await hailo_server.start()
    entry = mock_entry(hailo_server)
    await set_up(hass, entry)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"fallback_{entry.entry_id}")
    assert issue is not None and issue.severity is ir.IssueSeverity.WARNING and not issue.is_fixable
    assert issue.translation_key == "fallback"
    assert issue.translation_placeholders == {
        "wanted": "hailo",
        "reason": "another app (e.g. Frigate) holds the Hailo",
    }

    await hailo_server.stop()
    hailo_server.fallback = None
    await hailo_server.start()
    await refresh(hass)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"fallback_{entry.entry_id}") is None


async def test_a_degraded_server_is_a_repair_issue_until_it_recovers(
    hass: HomeAssistant, hailo_server: RunningServer
) -> None:
    entry = mock_entry(hailo_server)
    await set_up(hass, entry)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"degraded_{entry.entry_id}") is None

    await hailo_server.stop()
    hailo_server.problem = "the Hailo device stopped answering"
    await hailo_server.start()
    await refresh(hass)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"degraded_{entry.entry_id}")
    assert issue is not None and issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {"problem": "the Hailo device stopped answering"}

    await hailo_server.stop()
    hailo_server.problem = None
    await hailo_server.start()
    await refresh(hass)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"degraded_{entry.entry_id}") is None

    # Removing the entry removes its issues.
    await hailo_server.stop()
    hailo_server.problem = "again"
    await hailo_server.start()
    await refresh(hass)
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"degraded_{entry.entry_id}") is None
