"""The teach, forget and list actions, and every error a user can make with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from custom_components.hailo_face.const import DOMAIN
from tests.integration.conftest import CameraFactory, RunningServer, mock_entry, set_up
from tests.support import FACES_DIR, Faces


@pytest.fixture
def allow_faces_dir(hass: HomeAssistant) -> None:
    hass.config.allowlist_external_dirs = {str(FACES_DIR)}


async def call(hass: HomeAssistant, service: str, data: dict[str, Any], response: bool = True) -> Any:
    return await hass.services.async_call(DOMAIN, service, data, blocking=True, return_response=response)


async def names(hass: HomeAssistant) -> dict[str, int]:
    listing = await call(hass, "list", {})
    return {identity["name"]: identity["faces"] for identity in listing["identities"]}


async def test_teach_from_a_camera_and_from_a_file_then_list(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces, allow_faces_dir: None
) -> None:
    camera = await add_camera("Hall", faces.person("sheldon", 1))
    await set_up(hass, mock_entry(hailo_server))
    taught = await call(hass, "teach", {"name": "Sheldon", "camera": camera})
    assert taught["created"] is True
    assert (taught["identity"]["name"], taught["identity"]["faces"]) == ("Sheldon", 1)
    again = await call(hass, "teach", {"name": "sheldon", "file": str(faces.person("sheldon", 2))})
    assert (again["created"], again["identity"]["faces"]) == (False, 2)
    listing = await call(hass, "list", {})
    (sheldon,) = listing["identities"]
    assert [s["id"] for s in sheldon["samples"]] == [taught["face_id"], again["face_id"]]
    assert all(s["usable"] for s in sheldon["samples"])


async def test_teach_the_largest_of_several_faces(
    hass: HomeAssistant, hailo_server: RunningServer, faces: Faces, allow_faces_dir: None
) -> None:
    await set_up(hass, mock_entry(hailo_server))
    with pytest.raises(ServiceValidationError) as several:
        await call(hass, "teach", {"name": "x", "file": str(faces.group("bbt3.jpg"))})
    assert several.value.translation_key == "multiple_faces"
    assert several.value.translation_placeholders == {"count": "5"}
    taught = await call(hass, "teach", {"name": "x", "file": str(faces.group("bbt3.jpg")), "largest_face": True})
    assert taught["identity"]["faces"] == 1


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"name": "ghost", "file": "{faces}/groups/no_face.png"}, "no_face"),
        ({"name": "x", "file": "/etc/passwd"}, "path_not_allowed"),
        ({"name": "x", "file": "{faces}/people/amy/missing.png"}, "file_unreadable"),
        ({"name": "x", "file": "{faces}/groups/labels.json"}, "invalid_input"),
        ({"name": "a/b", "file": "{faces}/people/amy/amy1.png"}, "invalid_input"),
        ({"name": "x"}, "camera_or_file"),
        ({"name": "x", "camera": "camera.nowhere"}, "camera_failed"),
        ({"name": "x", "config_entry_id": "nope", "file": "{faces}/people/amy/amy1.png"}, "entry_not_loaded"),
    ],
)
async def test_teach_errors_are_translated_and_store_nothing(
    hass: HomeAssistant, hailo_server: RunningServer, allow_faces_dir: None, data: dict[str, str], key: str
) -> None:
    await set_up(hass, mock_entry(hailo_server))
    filled = {k: v.format(faces=FACES_DIR) for k, v in data.items()}
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "teach", filled, response=False)
    assert raised.value.translation_domain == DOMAIN
    assert raised.value.translation_key == key
    assert await names(hass) == {}


async def test_both_a_camera_and_a_file_is_refused(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces, allow_faces_dir: None
) -> None:
    camera = await add_camera("Hall", faces.person("amy", 1))
    await set_up(hass, mock_entry(hailo_server))
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "teach", {"name": "x", "camera": camera, "file": str(faces.person("amy", 1))})
    assert raised.value.translation_key == "camera_or_file"


async def test_forget_one_sample_then_the_person(
    hass: HomeAssistant, hailo_server: RunningServer, faces: Faces, allow_faces_dir: None
) -> None:
    await set_up(hass, mock_entry(hailo_server))
    first = await call(hass, "teach", {"name": "penny", "file": str(faces.person("penny", 1))})
    await call(hass, "teach", {"name": "penny", "file": str(faces.person("penny", 2))})
    removed = await call(hass, "forget", {"name": "penny", "face_id": first["face_id"]})
    assert (removed["removed_face_id"], removed["identity"]["faces"]) == (first["face_id"], 1)
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "forget", {"name": "penny", "face_id": first["face_id"]})
    assert raised.value.translation_key == "unknown_face"
    await call(hass, "forget", {"name": "Penny"})
    assert await names(hass) == {}
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "forget", {"name": "penny"})
    assert (raised.value.translation_key, raised.value.translation_placeholders) == ("unknown_name", {"name": "penny"})
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "forget", {"name": "nobody", "face_id": 3})
    assert raised.value.translation_key == "unknown_name"


async def test_actions_without_a_server(hass: HomeAssistant, hailo_server: RunningServer, faces: Faces) -> None:
    await set_up(hass, mock_entry(hailo_server))  # registers the actions
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "list", {})
    assert raised.value.translation_key == "no_server"


async def test_an_unreachable_server_is_a_clear_error(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    await set_up(hass, mock_entry(hailo_server))
    await hailo_server.stop()
    with pytest.raises(HomeAssistantError) as raised:
        await call(hass, "list", {})
    assert raised.value.translation_key == "cannot_connect"


async def test_two_servers_need_a_choice(hass: HomeAssistant, hailo_server: RunningServer, tmp_path: Path) -> None:
    first = mock_entry(hailo_server)
    second = mock_entry(hailo_server)
    await set_up(hass, first)
    await set_up(hass, second)
    with pytest.raises(ServiceValidationError) as raised:
        await call(hass, "list", {})
    assert raised.value.translation_key == "choose_server"
    assert (await call(hass, "list", {"config_entry_id": second.entry_id})) == {"identities": []}


def test_every_error_key_has_a_translation() -> None:
    import json
    import re

    package = Path(__file__).resolve().parents[2] / "custom_components" / "hailo_face"
    source = "".join(path.read_text() for path in package.glob("*.py"))
    used = set(re.findall(r'_(?:invalid|failed)\(\s*"([a-z_]+)"', source))
    used |= set(re.findall(r'translation_key="([a-z_]+)"', source))
    strings = json.loads((package / "strings.json").read_text())
    used -= {key for platform in strings["entity"].values() for key in platform}  # entities' names
    used -= set(strings["issues"])  # repair issues
    assert {"no_face", "multiple_faces", "path_not_allowed", "unknown_name", "cannot_connect"} <= used
    assert used <= set(strings["exceptions"]), used - set(strings["exceptions"])
