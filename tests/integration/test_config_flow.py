"""Every step of the config, reauth, reconfigure and options flows, against the real server."""

from __future__ import annotations

import pytest
from homeassistant import config_entries
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo

from custom_components.hailo_face.const import (
    CONF_CAMERAS,
    CONF_CONFIDENCE,
    CONF_MAX_FACES,
    CONF_SCAN_INTERVAL,
    DOMAIN,
)
from tests.integration.conftest import CameraFactory, RunningServer, mock_entry, set_up
from tests.integration.devices import device
from tests.support import Faces


async def server_id(server: RunningServer) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/health") as response:
        return str((await response.json())["server_id"])


async def test_user_step_connects_then_asks_for_cameras(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await add_camera("Front door", faces.person("amy", 2))
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "user")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: hailo_server.url + "/", CONF_API_KEY: hailo_server.api_key}
    )
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "cameras")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_CAMERAS: [camera]})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == await server_id(hailo_server)
    assert entry.data == {CONF_URL: hailo_server.url, CONF_API_KEY: hailo_server.api_key}
    assert entry.options[CONF_CAMERAS] == [camera]
    assert entry.options[CONF_CONFIDENCE] == 50.0
    await hass.async_block_till_done()
    assert hass.states.get("image_processing.hailo_face_front_door_faces") is not None


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({CONF_URL: "http://127.0.0.1:9", CONF_API_KEY: ""}, {"base": "cannot_connect"}),
        ({CONF_API_KEY: "wrong-key"}, {CONF_API_KEY: "invalid_auth"}),
        ({CONF_API_KEY: ""}, {CONF_API_KEY: "invalid_auth"}),
    ],
)
async def test_user_step_errors_keep_the_form(
    hass: HomeAssistant, hailo_server: RunningServer, user_input: dict[str, str], errors: dict[str, str]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: hailo_server.url, **user_input}
    )
    assert (result["type"], result["step_id"], result["errors"]) == (FlowResultType.FORM, "user", errors)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: hailo_server.url, CONF_API_KEY: hailo_server.api_key}
    )
    assert result["step_id"] == "cameras"


async def test_something_else_at_the_url_is_not_hailo_face(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    # The server's own /health answers, but an unknown route is a 404: not a Hailo Face info endpoint.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: f"{hailo_server.url}/v1/database", CONF_API_KEY: hailo_server.api_key}
    )
    assert result["errors"] == {"base": "not_hailo_face"}


async def test_the_same_server_twice_is_already_configured(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    entry = mock_entry(hailo_server)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, unique_id=await server_id(hailo_server))
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: hailo_server.url, CONF_API_KEY: hailo_server.api_key}
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "already_configured")


def discovery(server: RunningServer, api_key: str | None = None) -> HassioServiceInfo:
    return HassioServiceInfo(
        config={"host": "127.0.0.1", "port": server.port, "api_key": api_key or server.api_key},
        name="Hailo Face",
        slug="hailo_face",
        uuid="1234",
    )


async def test_the_add_on_is_discovered_and_confirmed(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    camera = await add_camera("Porch", faces.person("raj", 2))
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_HASSIO}, data=discovery(hailo_server)
    )
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "hassio_confirm")
    assert result["description_placeholders"] == {"addon": "Hailo Face"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "cameras"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_CAMERAS: [camera]})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_URL: hailo_server.url,
        CONF_API_KEY: hailo_server.api_key,
        "addon_slug": "hailo_face",
    }
    # The server's device opens the app's web page in the sidebar (ingress).
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    server = device(hass, entry.unique_id or "")
    assert server is not None and server.configuration_url == "homeassistant://hassio/ingress/hailo_face"


async def test_a_rediscovered_add_on_updates_the_entry(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    entry = mock_entry(hailo_server)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, unique_id=await server_id(hailo_server), data={CONF_URL: "http://old:5002", CONF_API_KEY: "old"}
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_HASSIO}, data=discovery(hailo_server)
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "already_configured")
    # A manually added server that turns out to be the app learns its panel too.
    assert entry.data == {CONF_URL: hailo_server.url, CONF_API_KEY: hailo_server.api_key, "addon_slug": "hailo_face"}


async def test_a_discovered_add_on_that_does_not_answer_aborts(
    hass: HomeAssistant, hailo_server: RunningServer
) -> None:
    info = discovery(hailo_server)
    await hailo_server.stop()
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_HASSIO}, data=info
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "cannot_connect")


async def test_a_discovered_add_on_with_a_bad_key_aborts(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_HASSIO}, data=discovery(hailo_server, "stale")
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "not_hailo_face")


async def test_reauth_asks_for_the_new_key(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    entry = mock_entry(hailo_server)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, unique_id=await server_id(hailo_server), data={**entry.data, CONF_API_KEY: "old-key"}
    )
    result = await entry.start_reauth_flow(hass)
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "reauth_confirm")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_API_KEY: "still-wrong"})
    assert result["errors"] == {CONF_API_KEY: "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_API_KEY: hailo_server.api_key})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reauth_successful")
    assert entry.data[CONF_API_KEY] == hailo_server.api_key


async def test_reauth_against_another_server_is_refused(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    entry = mock_entry(hailo_server)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, unique_id="another-server")
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_API_KEY: hailo_server.api_key})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "wrong_server")


async def test_reconfigure_changes_the_address(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    entry = mock_entry(hailo_server)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, unique_id=await server_id(hailo_server), data={CONF_URL: "http://127.0.0.1:9", CONF_API_KEY: "x"}
    )
    result = await entry.start_reconfigure_flow(hass)
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "reconfigure")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://127.0.0.1:9", CONF_API_KEY: "x"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: hailo_server.url, CONF_API_KEY: hailo_server.api_key}
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
    assert entry.data == {CONF_URL: hailo_server.url, CONF_API_KEY: hailo_server.api_key}


async def test_reconfigure_to_another_server_is_refused(hass: HomeAssistant, hailo_server: RunningServer) -> None:
    entry = mock_entry(hailo_server)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, unique_id="another-server")
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: hailo_server.url, CONF_API_KEY: hailo_server.api_key}
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "wrong_server")


async def test_options_apply_without_a_restart(
    hass: HomeAssistant, hailo_server: RunningServer, add_camera: CameraFactory, faces: Faces
) -> None:
    door = await add_camera("Door", faces.person("amy", 2))
    yard = await add_camera("Yard", faces.person("raj", 2))
    entry = mock_entry(hailo_server, [door])
    await set_up(hass, entry)
    assert hass.states.get("image_processing.hailo_face_door_faces") is not None
    assert hass.states.get("image_processing.hailo_face_yard_faces") is None

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "init")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_CAMERAS: [yard],
            CONF_CONFIDENCE: 75,
            CONF_SCAN_INTERVAL: 0,
            CONF_MAX_FACES: 3,
            "event_cooldown": 30,
            "seen_minutes": 5,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {
        CONF_CAMERAS: [yard],
        CONF_CONFIDENCE: 75.0,
        CONF_SCAN_INTERVAL: 0,
        CONF_MAX_FACES: 3,
        "event_cooldown": 30,
        "seen_minutes": 5,
    }
    assert hass.states.get("image_processing.hailo_face_yard_faces").state != "unavailable"
    assert hass.states.get("image_processing.hailo_face_door_faces") is None
