"""Finding a device by its identifier the same way on every Home Assistant version."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from custom_components.hailo_face.const import DOMAIN


def device(hass: HomeAssistant, identifier: str) -> dr.DeviceEntry | None:
    """The Hailo Face device with this identifier (lookups in the registry's mapping are deprecated in 2026)."""
    registry = dr.async_get(hass)
    for entry in hass.config_entries.async_entries(DOMAIN):
        for found in dr.async_entries_for_config_entry(registry, entry.entry_id):
            if (DOMAIN, identifier) in found.identifiers:
                return found
    return None
