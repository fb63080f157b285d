"""Devices and the base of every Hailo Face entity.

Three kinds of device: the server (a service), one per watched camera and one
per known person, both linked to the server's device.
"""

from __future__ import annotations

from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import CONF_ADDON_SLUG, DEFAULT_TITLE, DOMAIN
from .data import HailoFaceConfigEntry


def configuration_url(entry: HailoFaceConfigEntry) -> str:
    """The server's web page: the app's sidebar panel when the app announced it, else the server's own address."""
    slug = entry.data.get(CONF_ADDON_SLUG)
    if slug:
        return f"homeassistant://hassio/ingress/{slug}"
    return str(entry.data[CONF_URL]).rstrip("/") + "/"


def server_device_info(entry: HailoFaceConfigEntry) -> DeviceInfo:
    info = entry.runtime_data.server_info
    backend = info.backend.upper()
    return DeviceInfo(
        identifiers={(DOMAIN, entry.runtime_data.server_id)},
        name=DEFAULT_TITLE,
        manufacturer="Hailo Face",
        model=f"{backend} ({info.device})" if info.device and info.device != "cpu" else backend or None,
        sw_version=info.version or None,
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=configuration_url(entry),
    )


# Home Assistant 2026.8 links a device to its parent by the parent's registry id
# (``via_device_id``); before, by one of its identifiers (``via_device``, deprecated since).
_VIA_DEVICE_ID = "via_device_id" in DeviceInfo.__annotations__


def _linked_to_server(entry: HailoFaceConfigEntry, info: DeviceInfo) -> DeviceInfo:
    if _VIA_DEVICE_ID:
        info["via_device_id"] = entry.runtime_data.server_device_id  # type: ignore[typeddict-unknown-key]
    else:
        info["via_device"] = (DOMAIN, entry.runtime_data.server_id)
    return info


def camera_name(hass: HomeAssistant, camera: str) -> str:
    """What the user calls the camera: its name in the registry or state, else its object id."""
    registered = er.async_get(hass).async_get(camera)
    if registered is not None and (registered.name or registered.original_name):
        return str(registered.name or registered.original_name)
    state = hass.states.get(camera)
    if state is not None and state.name:
        return str(state.name)
    return camera.split(".", 1)[-1].replace("_", " ").capitalize()


def camera_device_info(hass: HomeAssistant, entry: HailoFaceConfigEntry, camera: str) -> DeviceInfo:
    server_id = entry.runtime_data.server_id
    return _linked_to_server(
        entry,
        DeviceInfo(
            identifiers={(DOMAIN, f"{server_id}_{camera}")},
            name=camera_name(hass, camera),
            manufacturer="Hailo Face",
            model="Watched camera",
        ),
    )


def person_identifier(entry: HailoFaceConfigEntry, key: str) -> str:
    """The device identifier (and unique-id prefix) of the person with this key (coordinator.person_key)."""
    return f"{entry.runtime_data.server_id}_person_{key}"


def person_device_info(entry: HailoFaceConfigEntry, key: str, name: str) -> DeviceInfo:
    return _linked_to_server(
        entry,
        DeviceInfo(
            identifiers={(DOMAIN, person_identifier(entry, key))},
            name=name,
            manufacturer="Hailo Face",
            model="Known person",
        ),
    )


class HailoFaceEntity(Entity):
    _attr_has_entity_name = True

    def __init__(self, entry: HailoFaceConfigEntry, key: str) -> None:
        self.entry = entry
        self._attr_unique_id = f"{entry.runtime_data.server_id}_{key}"
        self._attr_device_info = server_device_info(entry)
