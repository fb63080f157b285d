"""A watched camera's device: its face event (once per stay) and its pictures, from real scans."""

from __future__ import annotations

import io
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from PIL import Image
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.hailo_face.const import CONF_SCAN_INTERVAL
from tests.integration.conftest import CameraFactory, RunningServer, mock_entry, set_up, show
from tests.integration.test_image_processing import scan
from tests.support import Faces

EVENT = "event.front_door_face"
LAST_FACE = "image.front_door_last_face"
LAST_FRAME = "image.front_door_last_frame"


async def start(
    hass: HomeAssistant, server: RunningServer, add_camera: CameraFactory, faces: Faces, **options: Any
) -> str:
    camera = await add_camera("Front door", faces.group("no_face.png"))
    for name in ("leonard", "penny"):
        await server.teach(name, faces.person(name, 1))
    await set_up(hass, mock_entry(server, [camera], **{CONF_SCAN_INTERVAL: 0, **options}))
    return camera


async def fetch(hass_client: ClientSessionGenerator, hass: HomeAssistant, entity_id: str) -> bytes:
    state = hass.states.get(entity_id)
    client = await hass_client()
    response = await client.get(state.attributes["entity_picture"])
    assert response.status == HTTPStatus.OK, entity_id
    assert response.content_type == "image/jpeg"
    return await response.read()


async def test_a_person_in_view_fires_once_per_stay(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    freezer: FrozenDateTimeFactory,
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces, event_cooldown=60)
    assert hass.states.get(EVENT).state == "unknown"  # never fired yet
    await show(hass, camera, faces.person("leonard", 3))
    await scan(hass)
    state = hass.states.get(EVENT)
    assert state.attributes["event_type"] == "recognized"
    assert state.attributes["name"] == "leonard"
    assert isinstance(state.attributes["identity_id"], int)
    assert 50 <= state.attributes["confidence"] <= 100
    assert isinstance(state.attributes["sighting_id"], int)
    fired_at = state.state

    # He stays for two minutes, scanned every 10 s: nothing more fires.
    for _ in range(12):
        freezer.tick(timedelta(seconds=10))
        await scan(hass)
        assert hass.states.get(EVENT).state == fired_at

    # He leaves; back after the cooldown: a new visit fires.
    await show(hass, camera, faces.group("no_face.png"))
    await scan(hass)
    freezer.tick(timedelta(seconds=61))
    await show(hass, camera, faces.person("leonard", 3))
    await scan(hass)
    assert hass.states.get(EVENT).state != fired_at


async def test_two_people_in_one_frame_fire_two_events(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    fired: list[tuple[str, str | None]] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        if state is not None and state.state not in ("unknown", "unavailable"):
            fired.append((state.attributes["event_type"], state.attributes["name"]))

    async_track_state_change_event(hass, [EVENT], record)
    await show(hass, camera, faces.group("bbt3.jpg"))  # leonard and penny among three strangers
    await scan(hass)
    assert sorted(fired) == [("recognized", "leonard"), ("recognized", "penny")] + [("unknown", None)] * 3


async def test_a_stranger_fires_unknown_and_someone_else_fires_at_once(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    await show(hass, camera, faces.person("howard", 2))
    await scan(hass)
    state = hass.states.get(EVENT)
    assert (state.attributes["event_type"], state.attributes["name"]) == ("unknown", None)
    assert isinstance(state.attributes["sighting_id"], int)
    await show(hass, camera, faces.person("penny", 2))
    await scan(hass)
    state = hass.states.get(EVENT)
    assert (state.attributes["event_type"], state.attributes["name"]) == ("recognized", "penny")


async def test_an_ignored_face_fires_nothing(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    await show(hass, camera, faces.person("raj", 2))
    await scan(hass)
    sighting = hass.states.get(EVENT).attributes["sighting_id"]
    await hailo_server.call("POST", "/v1/sightings/ignore", {"sighting_ids": [sighting]})
    fired = hass.states.get(EVENT).state
    await show(hass, camera, faces.person("raj", 2))
    await scan(hass)
    assert hass.states.get(EVENT).state == fired


async def test_the_last_face_is_the_servers_crop_and_the_last_frame_has_boxes(
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    hass_client: ClientSessionGenerator,
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    registry = er.async_get(hass)
    registry.async_update_entity(LAST_FRAME, disabled_by=None)  # disabled by default
    await hass.config_entries.async_reload(registry.async_get(LAST_FRAME).config_entry_id or "")
    await hass.async_block_till_done()
    assert hass.states.get(LAST_FACE).state == "unknown"  # no face seen yet

    await show(hass, camera, faces.group("bbt3.jpg"))
    state = await scan(hass)
    assert state.attributes["total_faces"] == 5
    crop = await fetch(hass_client, hass, LAST_FACE)
    largest = max(state.attributes["faces"], key=lambda f: f["bounding_box"][2] - f["bounding_box"][0])
    with Image.open(io.BytesIO(crop)) as image:
        assert image.format == "JPEG" and image.width < 600  # a face, not the frame
    frame = await fetch(hass_client, hass, LAST_FRAME)
    with Image.open(io.BytesIO(frame)) as image, Image.open(faces.group("bbt3.jpg")) as original:
        assert image.size == original.size
        # The box is drawn: the frame differs from the photo along the largest face's box.
        x1, y1, x2, _ = (round(v) for v in largest["bounding_box"])
        drawn = image.convert("RGB").crop((x1, y1, x2, y1 + 2))
        plain = original.convert("RGB").crop((x1, y1, x2, y1 + 2))
        assert drawn.tobytes() != plain.tobytes()

    # A scan with no face keeps the last face shown.
    updated = hass.states.get(LAST_FACE).state
    await show(hass, camera, faces.group("no_face.png"))
    await scan(hass)
    assert hass.states.get(LAST_FACE).state == updated
