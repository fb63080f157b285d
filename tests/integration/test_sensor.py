"""The known-people sensor and the server connectivity binary sensor."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from tests.integration.conftest import RunningServer, mock_entry, set_up
from tests.support import Faces

PEOPLE_SENSOR = "sensor.hailo_face_known_people"
SERVER_SENSOR = "binary_sensor.hailo_face_server"


async def test_known_people_follows_the_gallery(hass: HomeAssistant, hailo_server: RunningServer, faces: Faces) -> None:
    await hailo_server.teach("amy", faces.person("amy", 1))
    await set_up(hass, mock_entry(hailo_server))
    assert hass.states.get(PEOPLE_SENSOR).state == "1"
    hass.config.allowlist_external_dirs = {str(faces.root)}
    await hass.services.async_call(
        "hailo_face", "teach", {"name": "raj", "file": str(faces.person("raj", 1))}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(PEOPLE_SENSOR).state == "2"
    assert hass.states.get(PEOPLE_SENSOR).attributes["state_class"] == "measurement"


async def test_the_server_sensor_is_on_while_it_answers_and_off_not_unavailable_when_not(
    hass: HomeAssistant, hailo_server: RunningServer
) -> None:
    await set_up(hass, mock_entry(hailo_server))
    state = hass.states.get(SERVER_SENSOR)
    assert (state.state, state.attributes["device_class"]) == ("on", "connectivity")
    assert (state.attributes["status"], state.attributes["backend"]) == ("ok", "cpu")
    await hailo_server.stop()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(SERVER_SENSOR).state == "off"
    assert hass.states.get(PEOPLE_SENSOR).state == "unavailable"
