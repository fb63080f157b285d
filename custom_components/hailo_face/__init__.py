"""Hailo Face: local face recognition for Home Assistant, on a Hailo NPU or the CPU."""

from __future__ import annotations

from homeassistant.const import CONF_API_KEY, CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_component import DATA_INSTANCES, EntityComponent
from homeassistant.helpers.typing import ConfigType

from .api import AuthFailed, HailoFaceClient, HailoFaceError
from .const import DOMAIN
from .coordinator import HailoFaceCoordinator
from .data import HailoFaceConfigEntry, HailoFaceData
from .services import async_register_services

IMAGE_PROCESSING = "image_processing"
PLATFORMS = [Platform.BINARY_SENSOR, Platform.SENSOR]

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
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = HailoFaceData(client=client, coordinator=coordinator, server_info=info)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await _image_processing(hass).async_setup_entry(entry)
    entry.async_on_unload(entry.add_update_listener(_async_options_changed))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> bool:
    try:
        cameras_unloaded = await _image_processing(hass).async_unload_entry(entry)
    except ValueError:  # the cameras were never set up (setup failed earlier)
        cameras_unloaded = True
    platforms_unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    return cameras_unloaded and platforms_unloaded


async def _async_options_changed(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> None:
    """Cameras, confidence and intervals apply by reloading the entry (no restart)."""
    await hass.config_entries.async_reload(entry.entry_id)
