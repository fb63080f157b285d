"""Known people as devices: last seen, last camera, seen recently, avatar; added, renamed, removed."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.hailo_face.const import CONF_CONFIDENCE, CONF_SCAN_INTERVAL, DOMAIN
from tests.integration.conftest import CameraFactory, RunningServer, mock_entry, set_up, show
from tests.integration.devices import device
from tests.integration.test_image_processing import scan
from tests.support import Faces

CAMERA_EVENT = "event.front_door_face"


async def refresh_people(hass: HomeAssistant) -> None:
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await entry.runtime_data.people.async_refresh()
    await hass.async_block_till_done()


async def start(
    hass: HomeAssistant, server: RunningServer, add_camera: CameraFactory, faces: Faces, **options: object
) -> str:
    camera = await add_camera("Front door", faces.group("no_face.png"))
    await server.teach("penny", faces.person("penny", 1))
    await set_up(hass, mock_entry(server, [camera], **{CONF_SCAN_INTERVAL: 0, "seen_minutes": 5, **options}))
    return camera


async def test_a_person_is_a_device_whose_last_seen_follows_the_cameras(  # noqa: PLR0917 (fixtures)
    hass: HomeAssistant,
    hailo_server: RunningServer,
    add_camera: CameraFactory,
    faces: Faces,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    penny = device(hass, f"{await server_id(hass)}_person_1")
    assert penny is not None and penny.name == "penny" and penny.model == "Known person"
    entities = {e.entity_id for e in er.async_entries_for_device(er.async_get(hass), penny.id)}
    assert entities == {
        "sensor.penny_last_seen",
        "sensor.penny_last_camera",
        "binary_sensor.penny_seen_recently",
        "image.penny_avatar",
    }
    assert hass.states.get("sensor.penny_last_seen").state == "unknown"
    assert hass.states.get("binary_sensor.penny_seen_recently").state == "off"
    client = await hass_client()
    avatar = await client.get(hass.states.get("image.penny_avatar").attributes["entity_picture"])
    assert avatar.status == HTTPStatus.OK and (await avatar.read()).startswith(b"\xff\xd8")

    # The door camera sees her: last seen now, by that camera; seen recently for 5 minutes.
    await show(hass, camera, faces.person("penny", 2))
    before = dt_util.utcnow()
    await scan(hass)
    await hass.async_block_till_done()
    last_seen = hass.states.get("sensor.penny_last_seen")
    assert dt_util.parse_datetime(last_seen.state) >= before.replace(microsecond=0)
    assert last_seen.attributes["camera"] == camera and 50 <= last_seen.attributes["confidence"] <= 100
    assert hass.states.get("sensor.penny_last_camera").state == camera
    assert hass.states.get("binary_sensor.penny_seen_recently").state == "on"
    freezer.tick(timedelta(minutes=5, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.penny_seen_recently").state == "off"


async def server_id(hass: HomeAssistant) -> str:
    return str(hass.config_entries.async_entries(DOMAIN)[0].runtime_data.server_id)


async def test_people_taught_renamed_and_forgotten_elsewhere_follow(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    await start(hass, hailo_server, add_camera, faces)
    sid = await server_id(hass)
    # Taught on the web page (any API client): a new device at the next poll.
    taught = await hailo_server.teach("leonard", faces.person("leonard", 1))
    leonard = f"{sid}_person_{taught['identity']['id']}"
    await refresh_people(hass)
    assert device(hass, leonard) is not None
    assert hass.states.get("sensor.leonard_last_seen") is not None
    # Renamed there: the device follows (its entities keep their ids).
    await hailo_server.call("PATCH", "/v1/database/leonard", {"name": "Leonard H"})
    await refresh_people(hass)
    assert device(hass, leonard).name == "Leonard H"
    # Forgotten there: the device and its entities go.
    await hailo_server.call("DELETE", "/v1/database/Leonard%20H")
    await refresh_people(hass)
    assert device(hass, leonard) is None
    assert er.async_get(hass).async_get("sensor.leonard_last_seen") is None
    assert device(hass, f"{sid}_person_1") is not None  # penny stays


async def test_someone_taught_after_the_newest_was_forgotten_is_someone_new(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    await start(hass, hailo_server, add_camera, faces)
    sid = await server_id(hass)
    bob = (await hailo_server.teach("bob", faces.person("howard", 1)))["identity"]["id"]
    await refresh_people(hass)
    assert device(hass, f"{sid}_person_{bob}").name == "bob"
    # Forgotten and someone else taught before the next poll: not bob renamed.
    await hailo_server.call("DELETE", "/v1/database/bob")
    carol = (await hailo_server.teach("carol", faces.person("amy", 1)))["identity"]["id"]
    assert carol != bob
    await refresh_people(hass)
    assert device(hass, f"{sid}_person_{bob}") is None
    assert device(hass, f"{sid}_person_{carol}").name == "carol"
    assert hass.states.get("sensor.carol_last_seen") is not None


async def test_an_unreachable_server_forgets_no_one(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    await start(hass, hailo_server, add_camera, faces)
    await hailo_server.stop()
    await refresh_people(hass)
    assert device(hass, f"{await server_id(hass)}_person_1") is not None
    assert hass.states.get("sensor.penny_last_seen").state == "unavailable"
    await hailo_server.start()
    await refresh_people(hass)
    assert hass.states.get("sensor.penny_last_seen").state == "unknown"


async def call(hass: HomeAssistant, service: str, data: dict[str, object]) -> dict[str, object]:
    response = await hass.services.async_call(DOMAIN, service, data, blocking=True, return_response=True)
    assert response is not None
    return dict(response)


async def test_label_a_stranger_from_their_event_and_reject_a_wrong_name(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    await show(hass, camera, faces.person("stuart", 2))
    await scan(hass)
    sighting = hass.states.get(CAMERA_EVENT).attributes["sighting_id"]
    answer = await call(hass, "label", {"sighting_ids": [sighting], "name": "stuart"})
    assert answer["created"] is True and answer["sighting_ids"] == [sighting]
    await show(hass, camera, faces.person("stuart", 2))
    state = await scan(hass)
    assert state.state == "stuart"
    await hass.async_block_till_done()
    assert hass.states.get("sensor.stuart_last_camera").state == camera  # a device at once

    # Named wrongly at a confidence of 0: "not this person", then the same face is not named so.
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_CONFIDENCE: 0.0})
    await hass.async_block_till_done()
    await show(hass, camera, faces.person("amy", 1))
    wrong = (await scan(hass)).attributes["faces"][0]
    wrong_name = wrong["name"]
    assert wrong_name in ("penny", "stuart")
    sighting = hass.states.get(CAMERA_EVENT).attributes["sighting_id"]
    answer = await call(hass, "reject", {"sighting_id": sighting})
    assert answer["rejected"]["name"] == wrong_name and answer["relabelled"] is None
    await show(hass, camera, faces.person("amy", 1))
    assert (await scan(hass)).attributes["faces"][0]["name"] != wrong_name


async def test_label_a_cluster_and_the_errors_people_read(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    for n in (2, 3, 4):
        await show(hass, camera, faces.person("raj", n))
        await scan(hass)
    clusters = (await hailo_server.call("GET", "/v1/clusters"))["clusters"]
    assert clusters
    answer = await call(hass, "label", {"cluster_id": clusters[0]["id"], "name": "raj"})
    assert answer["identity"]["name"] == "raj"

    with pytest.raises(ServiceValidationError) as both:
        await call(hass, "label", {"name": "x"})
    assert both.value.translation_key == "sightings_or_cluster"
    with pytest.raises(ServiceValidationError) as missing:
        await call(hass, "label", {"cluster_id": 9999, "name": "x"})
    assert missing.value.translation_key == "unknown_sighting"
    assert "cluster 9999" in str(missing.value.translation_placeholders)
    with pytest.raises(ServiceValidationError) as gone:
        await call(hass, "reject", {"sighting_id": 9999})
    assert gone.value.translation_key == "unknown_sighting"
    await show(hass, camera, faces.person("howard", 2))
    await scan(hass)
    stranger = hass.states.get(CAMERA_EVENT).attributes["sighting_id"]
    with pytest.raises(ServiceValidationError) as unnamed:
        await call(hass, "reject", {"sighting_id": stranger})
    assert unnamed.value.translation_key == "not_named"
