"""Setting up and unloading an entry, through image_processing's EntityComponent too."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_component import DATA_INSTANCES

from custom_components.hailo_face.const import DOMAIN
from tests.integration.conftest import CameraFactory, RunningServer, mock_entry, set_up
from tests.support import Faces

CAMERA_ENTITY = "image_processing.hailo_face_front_door_faces"


async def test_setup_creates_the_device_and_every_entity_and_unload_removes_them(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await add_camera("Front door", faces.person("amy", 2))
    entry = mock_entry(hailo_server, [camera])
    await set_up(hass, entry)
    assert entry.state is ConfigEntryState.LOADED

    component = hass.data[DATA_INSTANCES]["image_processing"]
    assert entry.entry_id in component._platforms
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert sorted(e.entity_id for e in entities) == sorted(
        [
            "binary_sensor.hailo_face_server",
            "sensor.hailo_face_known_people",
            CAMERA_ENTITY,
            # The camera's own device: its face event, its last face, its last frame (disabled by default).
            "event.front_door_face",
            "image.front_door_last_face",
            "image.front_door_last_frame",
        ]
    )
    by_id = {e.entity_id: e for e in entities}
    assert by_id["image.front_door_last_frame"].disabled_by is er.RegistryEntryDisabler.INTEGRATION
    camera_device = dr.async_get(hass).async_get(by_id["event.front_door_face"].device_id)
    assert camera_device is not None and camera_device.name == "Front door"
    device = dr.async_get(hass).async_get(by_id["binary_sensor.hailo_face_server"].device_id)
    assert camera_device.via_device_id == device.id
    assert device is not None
    assert (device.name, device.manufacturer, device.sw_version) == ("Hailo Face", "Hailo Face", "0.1.0")
    assert device.model == "CPU"
    state = hass.states.get(CAMERA_ENTITY)
    assert state.attributes["friendly_name"] == "Hailo Face Front door faces"

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert entry.entry_id not in component._platforms
    assert hass.states.get(CAMERA_ENTITY).state == "unavailable"

    assert await hass.config_entries.async_setup(entry.entry_id)  # and it loads again
    await hass.async_block_till_done()
    assert hass.states.get(CAMERA_ENTITY).state != "unavailable"


async def test_a_server_that_is_down_is_retried(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    entry = mock_entry(hailo_server)
    await hailo_server.stop()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_a_refused_key_at_setup_starts_reauth(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    entry = mock_entry(hailo_server)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_API_KEY: "wrong"})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_actions_are_registered_once_for_every_entry(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    await set_up(hass, mock_entry(hailo_server))
    assert {"teach", "forget", "list"} <= set(hass.services.async_services_for_domain(DOMAIN))
