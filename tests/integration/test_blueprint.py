"""The README's blueprint, used as a new user would: a face event → one notification with the face."""

from __future__ import annotations

import shutil
from pathlib import Path

from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component

from custom_components.hailo_face.const import CONF_SCAN_INTERVAL
from tests.integration.conftest import CameraFactory, RunningServer, mock_entry, set_up, show
from tests.integration.test_image_processing import scan
from tests.support import Faces

BLUEPRINT = Path(__file__).resolve().parents[2] / "blueprints" / "automation" / "hailo_face" / "notify_face.yaml"


async def automation_from_blueprint(hass: HomeAssistant, **inputs: object) -> list[ServiceCall]:
    target = Path(hass.config.path("blueprints", "automation", "hailo_face"))
    await hass.async_add_executor_job(lambda: target.mkdir(parents=True, exist_ok=True))
    await hass.async_add_executor_job(shutil.copy, BLUEPRINT, target / BLUEPRINT.name)
    sent: list[ServiceCall] = []

    async def phone(call: ServiceCall) -> None:
        sent.append(call)

    hass.services.async_register("notify", "mobile_app_phone", phone)
    config = {
        "automation": {
            "alias": "Door faces to my phone",
            "use_blueprint": {
                "path": "hailo_face/notify_face.yaml",
                "input": {
                    "face_event": "event.front_door_face",
                    "last_face": "image.front_door_last_face",
                    "notify_action": "notify.mobile_app_phone",
                    **inputs,
                },
            },
        }
    }
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    assert hass.states.get("automation.door_faces_to_my_phone").state == "on"
    return sent


async def start(hass: HomeAssistant, server: RunningServer, add_camera: CameraFactory, faces: Faces) -> str:
    camera = await add_camera("Front door", faces.group("no_face.png"))
    await server.teach("penny", faces.person("penny", 1))
    await set_up(hass, mock_entry(server, [camera], **{CONF_SCAN_INTERVAL: 0}))
    return camera


async def test_a_known_person_at_the_door_is_one_notification_with_her_face(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    sent = await automation_from_blueprint(hass)
    await show(hass, camera, faces.person("penny", 2))
    for _ in range(3):  # she stays in view: one message, not one per scan
        await scan(hass)
    await hass.async_block_till_done()
    assert len(sent) == 1
    (call,) = sent
    assert call.data["title"] == "Front door"
    assert call.data["message"] == "penny is at the Front door."
    assert call.data["data"]["image"].startswith("/api/image_proxy/image.front_door_last_face?token=")
    # A stranger: a message too (both kinds are on by default).
    await show(hass, camera, faces.person("howard", 2))
    await scan(hass)
    await hass.async_block_till_done()
    assert sent[-1].data["message"] == "Someone unknown is at the Front door."


async def test_only_chosen_people(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await start(hass, hailo_server, add_camera, faces)
    sent = await automation_from_blueprint(hass, when=["recognized"], people=["alice"])
    await show(hass, camera, faces.person("penny", 2))
    await scan(hass)
    await show(hass, camera, faces.person("howard", 2))
    await scan(hass)
    await hass.async_block_till_done()
    assert sent == []  # penny is not chosen; strangers are not wanted
