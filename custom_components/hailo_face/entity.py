"""Base of every Hailo Face entity: they all belong to the server's device."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DEFAULT_TITLE, DOMAIN
from .data import HailoFaceConfigEntry


def server_device_info(entry: HailoFaceConfigEntry) -> DeviceInfo:
    info = entry.runtime_data.server_info
    backend = str(info.get("backend", "")).upper()
    device = info.get("device", "")
    return DeviceInfo(
        identifiers={(DOMAIN, entry.runtime_data.server_id)},
        name=DEFAULT_TITLE,
        manufacturer="Hailo Face",
        model=f"{backend} ({device})" if device and device != "cpu" else backend or None,
        sw_version=info.get("version"),
        entry_type=DeviceEntryType.SERVICE,
    )


class HailoFaceEntity(Entity):
    _attr_has_entity_name = True

    def __init__(self, entry: HailoFaceConfigEntry, key: str) -> None:
        self.entry = entry
        self._attr_unique_id = f"{entry.runtime_data.server_id}_{key}"
        self._attr_device_info = server_device_info(entry)
