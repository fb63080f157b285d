"""The per-camera entities on real recognitions: state, attributes, events, availability."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from homeassistant.const import CONF_API_KEY, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.hailo_face.const import CONF_CONFIDENCE, CONF_MAX_FACES, CONF_SCAN_INTERVAL, DOMAIN
from tests.integration.conftest import CameraFactory, RunningServer, mock_entry, set_up, show
from tests.support import PEOPLE, Faces

ENTITY = "image_processing.hailo_face_front_door_faces"


@pytest.fixture
def detect_events(hass: HomeAssistant) -> list[Event]:
    events: list[Event] = []
    hass.bus.async_listen("image_processing.detect_face", events.append)
    return events


async def scan(hass: HomeAssistant, entity_id: str = ENTITY) -> Any:
    await hass.services.async_call("image_processing", "scan", {"entity_id": entity_id}, blocking=True)
    await hass.async_block_till_done()
    return hass.states.get(entity_id)


async def start(
    hass: HomeAssistant, server: RunningServer, add_camera: CameraFactory, faces: Faces, **options: Any
) -> str:
    camera = await add_camera("Front door", faces.group("no_face.png"))
    for name in PEOPLE:
        await server.teach(name, faces.person(name, 1))
    await set_up(hass, mock_entry(server, [camera], **{CONF_SCAN_INTERVAL: 0, **options}))
    return camera


async def test_a_recognised_person_is_the_state_and_fires_an_event(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    detect_events: list[Event],
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    await show(hass, camera, faces.person("leonard", 3))
    state = await scan(hass)
    assert state.state == "leonard"
    (face,) = state.attributes["faces"]
    assert face["name"] == "leonard"
    assert 50 <= face["confidence"] <= 100
    assert len(face["bounding_box"]) == 4
    assert isinstance(face["identity_id"], int)
    assert state.attributes["total_faces"] == 1
    assert state.attributes["total_matched_faces"] == 1
    assert dt_util.parse_datetime(state.attributes["last_detection"]) is not None
    (event,) = detect_events
    assert event.data["name"] == "leonard"
    assert event.data["entity_id"] == ENTITY
    assert event.data["confidence"] == face["confidence"]


async def test_a_group_photo_names_everyone_and_fires_one_event_each(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    detect_events: list[Event],
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    await show(hass, camera, faces.group("bbt3.jpg"))
    state = await scan(hass)
    names = sorted(face["name"] for face in state.attributes["faces"])
    assert names == ["howard", "leonard", "penny", "raj", "sheldon"]
    assert sorted(e.data["name"] for e in detect_events) == names
    best = max(state.attributes["faces"], key=lambda face: face["confidence"])
    assert state.state == best["name"]


async def test_strangers_are_unknown_and_fire_no_event(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    detect_events: list[Event],
) -> None:
    camera = await add_camera("Front door", faces.person("penny", 2))
    await hailo_server.teach("amy", faces.person("amy", 1))
    await set_up(hass, mock_entry(hailo_server, [camera], **{CONF_SCAN_INTERVAL: 0}))
    state = await scan(hass)
    (face,) = state.attributes["faces"]
    assert face["name"] == "unknown"
    assert face["identity_id"] is None
    assert face["confidence"] < 50
    assert state.attributes["total_matched_faces"] == 0
    assert detect_events == []


async def test_scans_name_their_camera_and_ignored_faces_are_nobody(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    detect_events: list[Event],
) -> None:
    """The server keeps what each camera saw; a face the owner ignored (a poster) is neither known nor unknown."""
    camera = await add_camera("Front door", faces.person("stuart", 2))
    await hailo_server.teach("amy", faces.person("amy", 1))
    await set_up(hass, mock_entry(hailo_server, [camera], **{CONF_SCAN_INTERVAL: 0}))
    await scan(hass)
    (sighting,) = (await hailo_server.call("GET", "/v1/sightings"))["sightings"]
    assert sighting["source"] == camera
    (cluster,) = (await hailo_server.call("GET", "/v1/clusters"))["clusters"]
    await hailo_server.call("POST", f"/v1/clusters/{cluster['id']}/ignore", {})
    state = await scan(hass)
    assert state.attributes["faces"] == [] and state.attributes["total_faces"] == 0
    assert detect_events == []


async def test_a_higher_confidence_option_names_fewer_faces(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    detect_events: list[Event],
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces, **{CONF_CONFIDENCE: 99.99})
    await show(hass, camera, faces.person("leonard", 3))
    state = await scan(hass)
    assert state.attributes["faces"][0]["name"] == "unknown"
    assert detect_events == []


async def test_max_faces_limits_the_faces_recognised(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces, **{CONF_MAX_FACES: 2})
    await show(hass, camera, faces.group("bbt3.jpg"))
    state = await scan(hass)
    assert state.attributes["total_faces"] == 2


async def test_no_face_in_view(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    await start(hass, hailo_server, add_camera, faces)
    state = await scan(hass)
    assert state.attributes["faces"] == []
    assert state.attributes["total_faces"] == 0
    assert state.attributes["last_detection"] is None


async def test_the_scan_interval_scans_by_itself(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    detect_events: list[Event],
) -> None:
    camera = await add_camera("Front door", faces.person("raj", 2))
    await hailo_server.teach("raj", faces.person("raj", 1))
    await set_up(hass, mock_entry(hailo_server, [camera], **{CONF_SCAN_INTERVAL: 5}))
    assert detect_events == []
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [e.data["name"] for e in detect_events] == ["raj"]
    assert hass.states.get(ENTITY).state == "raj"


async def test_only_on_demand_never_scans_by_itself(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    detect_events: list[Event],
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    await show(hass, camera, faces.person("raj", 2))
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert detect_events == []


async def test_a_server_that_goes_away_makes_the_entities_unavailable_until_it_is_back(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    caplog: pytest.LogCaptureFixture,
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    await show(hass, camera, faces.person("amy", 2))
    assert (await scan(hass)).state == "amy"
    await hailo_server.stop()
    caplog.clear()
    await scan(hass)
    assert hass.states.get(ENTITY).state == STATE_UNAVAILABLE
    assert hass.states.get("binary_sensor.hailo_face_server").state == "off"
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert caplog.text.count("Error requesting hailo_face data") == 1  # once, not on every scan and poll
    await hailo_server.start()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=62))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("binary_sensor.hailo_face_server").state == "on"
    assert "Fetching hailo_face data recovered" in caplog.text
    assert (await scan(hass)).state == "amy"


async def test_a_refused_key_during_a_scan_starts_reauth(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    await start(hass, hailo_server, add_camera, faces)
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    entry.runtime_data.client._headers = {"Authorization": "Bearer revoked"}
    await scan(hass)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert entry.data[CONF_API_KEY] == hailo_server.api_key


async def test_a_camera_without_images_is_logged_once(
    hass: HomeAssistant,
    *,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    await show(hass, camera, faces.person("amy", 2))
    (faces_path := tmp_path / "gone.png").write_bytes(faces.person("amy", 2).read_bytes())
    await show(hass, camera, faces_path)
    faces_path.unlink()
    caplog.clear()
    for _ in range(3):
        await scan(hass)
    assert caplog.text.count("Cannot get an image from camera.front_door") == 1
