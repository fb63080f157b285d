"""Hailo Face: local face recognition for Home Assistant, on a Hailo NPU or the CPU."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_KEY, CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_component import DATA_INSTANCES, EntityComponent
from homeassistant.helpers.typing import ConfigType

from .api import AuthFailed, HailoFaceClient, HailoFaceError
from .const import (
    CONF_CAMERAS,
    CONF_CONFIDENCE,
    CONF_MAX_FACES,
    CONF_SCAN_INTERVAL,
    DEFAULT_CONFIDENCE,
    DEFAULT_MAX_FACES,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
)
from .coordinator import ISSUE_DEGRADED, ISSUE_FALLBACK, HailoFaceCoordinator, PeopleCoordinator
from .data import HailoFaceConfigEntry, HailoFaceData
from .entity import person_identifier, server_device_info
from .people import async_track_person_devices
from .scanner import CameraScanner
from .services import async_register_services

IMAGE_PROCESSING = "image_processing"
PLATFORMS = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.IMAGE, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    async_register_services(hass)
    return True


def _image_processing(hass: HomeAssistant) -> EntityComponent[Entity]:
    """The image_processing EntityComponent; it loads our platform for a config entry.

    image_processing has no config-entry support of its own, but its
    EntityComponent can set up and unload a platform per entry (our
    manifest depends on image_processing, so the component exists).
    """
    component: EntityComponent[Entity] = hass.data[DATA_INSTANCES][IMAGE_PROCESSING]
    return component


async def async_setup_entry(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> bool:
    client = HailoFaceClient(entry.data[CONF_URL], entry.data.get(CONF_API_KEY) or None, async_get_clientsession(hass))
    try:
        info = await client.info()
    except AuthFailed as err:
        raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="auth_failed") from err
    except HailoFaceError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": err.message},
        ) from err
    coordinator = HailoFaceCoordinator(hass, entry, client)
    people = PeopleCoordinator(hass, entry, client)
    entry.runtime_data = HailoFaceData(client=client, coordinator=coordinator, people=people, server_info=info)
    await coordinator.async_config_entry_first_refresh()
    await people.async_config_entry_first_refresh()
    options = entry.options
    for camera in options.get(CONF_CAMERAS, []):
        scanner = CameraScanner(
            hass,
            entry,
            camera,
            threshold=float(options.get(CONF_CONFIDENCE, DEFAULT_CONFIDENCE)) / 100,
            max_faces=int(options.get(CONF_MAX_FACES, DEFAULT_MAX_FACES)),
            interval_s=int(options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)),
        )
        entry.runtime_data.scanners[camera] = scanner
    # The server's device first: the cameras' and people's devices hang from it (via_device).
    server_device = dr.async_get(hass).async_get_or_create(config_entry_id=entry.entry_id, **server_device_info(entry))
    entry.runtime_data.server_device_id = server_device.id
    _remove_dropped_cameras(hass, entry)
    entry.async_on_unload(async_track_person_devices(hass, entry))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    for scanner in entry.runtime_data.scanners.values():
        entry.async_on_unload(scanner.async_start())
    await _image_processing(hass).async_setup_entry(entry)
    entry.async_on_unload(entry.add_update_listener(_async_options_changed))
    return True


def _remove_dropped_cameras(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> None:
    """Devices of cameras no longer watched leave the registry (and their entities with them)."""
    registry = dr.async_get(hass)
    server_id = entry.runtime_data.server_id
    watched = {f"{server_id}_{camera}" for camera in entry.runtime_data.scanners}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        cameras = {v for d, v in device.identifiers if d == DOMAIN and v.startswith(f"{server_id}_camera.")}
        if cameras and not cameras & watched:
            registry.async_remove_device(device.id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: HailoFaceConfigEntry, device: dr.DeviceEntry
) -> bool:
    """A device may be deleted by hand unless it is still in use: the server, a watched camera, a known person."""
    if entry.state is not ConfigEntryState.LOADED:
        return True  # nothing is known to be in use while the server is away
    data = entry.runtime_data
    in_use = {data.server_id, *(f"{data.server_id}_{camera}" for camera in data.scanners)}
    if data.people.data is not None:
        in_use |= {person_identifier(entry, key) for key in data.people.data.by_key}
    return not any(d == DOMAIN and v in in_use for d, v in device.identifiers)


async def async_unload_entry(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> bool:
    try:
        cameras_unloaded = await _image_processing(hass).async_unload_entry(entry)
    except ValueError:  # the cameras were never set up (setup failed earlier)
        cameras_unloaded = True
    platforms_unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if cameras_unloaded and platforms_unloaded:
        _delete_issues(hass, entry)  # a disabled or reloading entry reports nothing stale
    return cameras_unloaded and platforms_unloaded


async def async_remove_entry(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> None:
    """The entry's repair issues go with it."""
    _delete_issues(hass, entry)


def _delete_issues(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> None:
    for issue in (ISSUE_DEGRADED, ISSUE_FALLBACK):
        ir.async_delete_issue(hass, DOMAIN, f"{issue}_{entry.entry_id}")


async def _async_options_changed(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> None:
    """Cameras, confidence and intervals apply by reloading the entry (no restart)."""
    await hass.config_entries.async_reload(entry.entry_id)
