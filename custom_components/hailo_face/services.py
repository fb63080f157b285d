"""Actions: teach a face, forget a person or one sample, list who is known, label what the cameras saw, reject."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import voluptuous as vol
from homeassistant.components.camera import async_get_image
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv

from .api import (
    AuthFailed,
    CannotConnect,
    HailoFaceClient,
    HailoFaceError,
    Identity,
    InvalidInput,
    MultipleFaces,
    NoFace,
    NotFound,
    ServerBusy,
)
from .const import (
    ATTR_CAMERA,
    ATTR_CLUSTER_ID,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_FACE_ID,
    ATTR_FILE,
    ATTR_LARGEST_FACE,
    ATTR_NAME,
    ATTR_SIGHTING_ID,
    ATTR_SIGHTING_IDS,
    DOMAIN,
    SERVICE_FORGET,
    SERVICE_LABEL,
    SERVICE_LIST,
    SERVICE_REJECT,
    SERVICE_TEACH,
)
from .data import HailoFaceConfigEntry

MAX_IMAGE_BYTES = 20 * 1024 * 1024

ENTRY_FIELD: dict[vol.Marker, Any] = {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}
TEACH_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_NAME): cv.string,
        vol.Optional(ATTR_CAMERA): cv.entity_domain("camera"),
        vol.Optional(ATTR_FILE): cv.string,
        vol.Optional(ATTR_LARGEST_FACE, default=False): cv.boolean,
        **ENTRY_FIELD,
    }
)
FORGET_SCHEMA = vol.Schema(
    {vol.Required(ATTR_NAME): cv.string, vol.Optional(ATTR_FACE_ID): cv.positive_int, **ENTRY_FIELD}
)
LIST_SCHEMA = vol.Schema(ENTRY_FIELD)
LABEL_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_NAME): cv.string,
        vol.Exclusive(ATTR_SIGHTING_IDS, "what"): vol.All(cv.ensure_list, [cv.positive_int], vol.Length(min=1)),
        vol.Exclusive(ATTR_CLUSTER_ID, "what"): cv.positive_int,
        **ENTRY_FIELD,
    }
)
REJECT_SCHEMA = vol.Schema(
    {vol.Required(ATTR_SIGHTING_ID): cv.positive_int, vol.Optional(ATTR_NAME): cv.string, **ENTRY_FIELD}
)


def _invalid(key: str, **placeholders: Any) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={k: str(v) for k, v in placeholders.items()},
    )


def _failed(key: str, **placeholders: Any) -> HomeAssistantError:
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={k: str(v) for k, v in placeholders.items()},
    )


def _entry(hass: HomeAssistant, call: ServiceCall) -> HailoFaceConfigEntry:
    """The loaded entry the call is for: the one named, or the only one."""
    loaded: list[HailoFaceConfigEntry] = [
        entry for entry in hass.config_entries.async_entries(DOMAIN) if entry.state is ConfigEntryState.LOADED
    ]
    wanted = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if wanted is not None:
        for entry in loaded:
            if entry.entry_id == wanted:
                return entry
        raise _invalid("entry_not_loaded", entry_id=wanted)
    if not loaded:
        raise _invalid("no_server")
    if len(loaded) > 1:
        raise _invalid("choose_server")
    return loaded[0]


def _raise_for(err: HailoFaceError, entry: HailoFaceConfigEntry, name: str = "") -> NoReturn:
    """Turn a server error into the action error a user reads."""
    if isinstance(err, NoFace):
        raise _invalid("no_face") from err
    if isinstance(err, MultipleFaces):
        raise _invalid("multiple_faces", count=len(err.faces)) from err
    if isinstance(err, NotFound):
        raise _invalid("unknown_name", name=name) from err
    if isinstance(err, InvalidInput):
        raise _invalid("invalid_input", message=err.message) from err
    if isinstance(err, AuthFailed):
        entry.async_start_reauth(entry.runtime_data.coordinator.hass)
        raise _failed("auth_failed") from err
    if isinstance(err, CannotConnect):
        raise _failed("cannot_connect", error=err.message) from err
    if isinstance(err, ServerBusy):
        raise _failed("server_busy") from err
    raise _failed("server_error", error=err.message) from err


def _read_file(path: str) -> bytes:
    with Path(path).open("rb") as file:
        data = file.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError("too large")
    return data


async def _image_for(hass: HomeAssistant, call: ServiceCall) -> bytes:
    camera, path = call.data.get(ATTR_CAMERA), call.data.get(ATTR_FILE)
    if (camera is None) == (path is None):
        raise _invalid("camera_or_file")
    if camera is not None:
        try:
            return (await async_get_image(hass, camera)).content
        except HomeAssistantError as err:
            raise _invalid("camera_failed", camera=camera, error=err) from err
    assert path is not None
    if not hass.config.is_allowed_path(path):
        raise _invalid("path_not_allowed", path=path)
    try:
        return await hass.async_add_executor_job(_read_file, path)
    except (OSError, ValueError) as err:
        raise _invalid("file_unreadable", path=path, error=err) from err


def identity_response(identity: Identity) -> dict[str, Any]:
    response: dict[str, Any] = {
        "id": identity.id,
        "name": identity.name,
        "faces": identity.faces,
        "created_at": identity.created_at,
        "updated_at": identity.updated_at,
    }
    if identity.samples is not None:
        response["samples"] = [
            {"id": s.id, "model": s.model, "usable": s.usable, "created_at": s.created_at} for s in identity.samples
        ]
    return response


async def _teach(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    entry = _entry(hass, call)
    image = await _image_for(hass, call)
    name = call.data[ATTR_NAME]
    try:
        taught = await entry.runtime_data.client.add_face(name, image, pick_largest=call.data[ATTR_LARGEST_FACE])
    except HailoFaceError as err:
        _raise_for(err, entry, name)
        raise
    await entry.runtime_data.coordinator.async_request_refresh()
    await entry.runtime_data.people.async_request_refresh()  # a new person: their device at once
    return {"face_id": taught.face_id, "created": taught.created, "identity": identity_response(taught.identity)}


async def _forget(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call.hass, call)
    client = entry.runtime_data.client
    name = call.data[ATTR_NAME]
    face_id = call.data.get(ATTR_FACE_ID)
    try:
        if face_id is None:
            identity = await client.delete_identity(name)
        else:
            identity = await client.delete_face(name, face_id)
    except NotFound as err:
        try:
            known = face_id is not None and await _is_known(client, name)
        except HailoFaceError as listing_failed:
            _raise_for(listing_failed, entry, name)
        if known:
            raise _invalid("unknown_face", name=name, face_id=face_id) from err
        _raise_for(err, entry, name)
        raise
    except HailoFaceError as err:
        _raise_for(err, entry, name)
        raise
    await entry.runtime_data.coordinator.async_request_refresh()
    await entry.runtime_data.people.async_request_refresh()
    return {"identity": identity_response(identity), "removed_face_id": face_id}


async def _is_known(client: HailoFaceClient, name: str) -> bool:
    wanted = name.strip().casefold()
    return any(identity.name.casefold() == wanted for identity in await client.list_identities())


async def _list(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call.hass, call)
    try:
        identities = await entry.runtime_data.client.list_identities()
    except HailoFaceError as err:
        _raise_for(err, entry)
        raise
    return {"identities": [identity_response(identity) for identity in identities]}


async def _label(call: ServiceCall) -> ServiceResponse:
    """Name faces the cameras saw: sightings by id, or a whole unknown-face cluster."""
    entry = _entry(call.hass, call)
    client = entry.runtime_data.client
    name = call.data[ATTR_NAME]
    sighting_ids, cluster_id = call.data.get(ATTR_SIGHTING_IDS), call.data.get(ATTR_CLUSTER_ID)
    if (sighting_ids is None) == (cluster_id is None):
        raise _invalid("sightings_or_cluster")
    try:
        if cluster_id is not None:
            labelled = await client.label_cluster(cluster_id, name)
        else:
            labelled = await client.label_sightings(list(sighting_ids or []), name)
    except NotFound as err:
        what = f"cluster {cluster_id}" if cluster_id is not None else f"sightings {sighting_ids}"
        raise _invalid("unknown_sighting", what=what) from err
    except HailoFaceError as err:
        _raise_for(err, entry, name)
        raise
    await entry.runtime_data.people.async_request_refresh()
    return {
        "identity": identity_response(labelled.identity),
        "created": labelled.created,
        "face_ids": list[Any](labelled.face_ids),
        "sighting_ids": list[Any](labelled.sighting_ids),
    }


async def _reject(call: ServiceCall) -> ServiceResponse:
    """Not this person: the sighting's face becomes a negative sample; with a name, who it really is."""
    entry = _entry(call.hass, call)
    sighting_id, name = call.data[ATTR_SIGHTING_ID], call.data.get(ATTR_NAME)
    try:
        rejected = await entry.runtime_data.client.reject(sighting_id, name)
    except NotFound as err:
        raise _invalid("unknown_sighting", what=f"sighting {sighting_id}") from err
    except HailoFaceError as err:
        if err.code == "not_named":
            raise _invalid("not_named", sighting_id=sighting_id) from err
        _raise_for(err, entry, name or "")
        raise
    await entry.runtime_data.people.async_request_refresh()
    return {
        "rejected": identity_response(rejected.rejected),
        "negative_id": rejected.negative_id,
        "relabelled": identity_response(rejected.relabelled.identity) if rejected.relabelled else None,
    }


def async_register_services(hass: HomeAssistant) -> None:
    hass.services.async_register(
        DOMAIN, SERVICE_LABEL, _label, schema=LABEL_SCHEMA, supports_response=SupportsResponse.OPTIONAL
    )
    hass.services.async_register(
        DOMAIN, SERVICE_REJECT, _reject, schema=REJECT_SCHEMA, supports_response=SupportsResponse.OPTIONAL
    )
    hass.services.async_register(
        DOMAIN, SERVICE_TEACH, _teach, schema=TEACH_SCHEMA, supports_response=SupportsResponse.OPTIONAL
    )
    hass.services.async_register(
        DOMAIN, SERVICE_FORGET, _forget, schema=FORGET_SCHEMA, supports_response=SupportsResponse.OPTIONAL
    )
    hass.services.async_register(
        DOMAIN, SERVICE_LIST, _list, schema=LIST_SCHEMA, supports_response=SupportsResponse.ONLY
    )
