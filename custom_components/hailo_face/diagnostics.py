"""Diagnostics: the entry (API key redacted) and what the server reports."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant

from .api import HailoFaceError
from .data import HailoFaceConfigEntry

TO_REDACT = {CONF_API_KEY}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> dict[str, Any]:
    data = entry.runtime_data
    # Counts only: people's names stay out of reports that get shared.
    try:
        listing = await data.client.list_identities()
        identities: Any = {
            "people": len(listing),
            "samples": sum(i.faces for i in listing),
            "usable_samples": sum(s.usable for i in listing for s in i.samples or []),
        }
    except HailoFaceError as err:
        identities = f"unavailable: {err.message}"
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "server_info": data.server_info.raw,
        "health": data.coordinator.data.raw if data.coordinator.data else None,
        "last_update_success": data.coordinator.last_update_success,
        "identities": identities,
    }
