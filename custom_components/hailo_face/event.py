"""A face event per camera: ``recognized`` (a known person) or ``unknown`` (a stranger), once per stay.

A person who stays in view fires once, not at every scan: the same person
(or the same stranger: the server keeps one sighting for a face that stays)
fires again only after being out of view for the camera's cooldown. Ignored faces (posters, TVs)
never fire.
"""

from __future__ import annotations

import time

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import (
    ATTR_IDENTITY_ID,
    ATTR_NAME,
    ATTR_SIGHTING_ID,
    CONF_CAMERAS,
    CONF_EVENT_COOLDOWN,
    DEFAULT_EVENT_COOLDOWN,
    EVENT_RECOGNIZED,
    EVENT_UNKNOWN,
)
from .data import HailoFaceConfigEntry
from .entity import camera_device_info
from .scanner import CameraScanner, Scan

# Coordinator-driven: nothing polls on its own.
PARALLEL_UPDATES = 0

ATTR_CONFIDENCE = "confidence"
ATTR_CAMERA = "camera"


async def async_setup_entry(
    hass: HomeAssistant, entry: HailoFaceConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    scanners = entry.runtime_data.scanners
    cameras = entry.options.get(CONF_CAMERAS, [])
    async_add_entities(HailoFaceFaceEvent(hass, entry, scanners[camera]) for camera in cameras)


class HailoFaceFaceEvent(EventEntity):
    _attr_has_entity_name = True
    _attr_translation_key = "face"

    def __init__(self, hass: HomeAssistant, entry: HailoFaceConfigEntry, scanner: CameraScanner) -> None:
        self._attr_event_types = [EVENT_RECOGNIZED, EVENT_UNKNOWN]
        self._scanner = scanner
        self._cooldown_s = float(entry.options.get(CONF_EVENT_COOLDOWN, DEFAULT_EVENT_COOLDOWN))
        self._seen: dict[str, float] = {}  # person (or stranger's sighting) -> monotonic time last seen
        self._attr_unique_id = f"{entry.runtime_data.server_id}_{scanner.camera}_face_event"
        self._attr_device_info = camera_device_info(hass, entry, scanner.camera)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self._scanner.async_add_listener(self._scanned))

    @callback
    def _scanned(self, scan: Scan) -> None:
        """Fire for each face not seen within the cooldown; every face seen restarts its cooldown."""
        now = time.monotonic()
        self._seen = {key: at for key, at in self._seen.items() if now - at < self._cooldown_s}
        for face in scan.faces:
            named = face.outcome == "named" and face.identity_id is not None
            if named:
                key = f"person {face.identity_id}"
            elif face.sighting_id is not None:
                key = f"sighting {face.sighting_id}"  # the server keeps one sighting for a stranger who stays
            else:
                key = "stranger"  # a server that keeps no sightings: one stranger event per cooldown
            new = key not in self._seen
            self._seen[key] = now
            if not new:
                continue
            self._trigger_event(
                EVENT_RECOGNIZED if named else EVENT_UNKNOWN,
                {
                    ATTR_NAME: face.name if named else None,
                    ATTR_IDENTITY_ID: face.identity_id if named else None,
                    ATTR_CONFIDENCE: round(face.confidence * 100, 1),
                    ATTR_SIGHTING_ID: face.sighting_id,
                    ATTR_CAMERA: scan.camera,
                },
            )
            self.async_write_ha_state()  # each event reaches the state machine, not only the last
