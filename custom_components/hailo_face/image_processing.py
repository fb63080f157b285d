"""One face-recognition entity per camera.

``image_processing`` has no config-entry support of its own; the integration
loads this platform through the component's EntityComponent (see __init__).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from homeassistant.components.image_processing import DOMAIN as IMAGE_PROCESSING_DOMAIN
from homeassistant.components.image_processing import ImageProcessingFaceEntity
from homeassistant.const import ATTR_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import RecognizedFace
from .const import (
    ATTR_BOUNDING_BOX,
    ATTR_IDENTITY_ID,
    ATTR_LAST_DETECTION,
    ATTR_TOTAL_MATCHED_FACES,
    CONF_CAMERAS,
    CONF_CONFIDENCE,
    DEFAULT_CONFIDENCE,
    UNKNOWN_NAME,
)
from .data import HailoFaceConfigEntry
from .entity import HailoFaceEntity
from .scanner import Scan

# Scans are serialised per camera by its scanner; coordinator entities never poll.
PARALLEL_UPDATES = 0

_LOGGER = logging.getLogger(__name__)

ATTR_CONFIDENCE = "confidence"


async def async_setup_entry(
    hass: HomeAssistant, entry: HailoFaceConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    cameras = entry.options.get(CONF_CAMERAS, [])
    _remove_dropped_cameras(hass, entry, {f"{entry.runtime_data.server_id}_{camera}" for camera in cameras})
    async_add_entities(HailoFaceCameraEntity(hass, entry, camera) for camera in cameras)


def _remove_dropped_cameras(hass: HomeAssistant, entry: HailoFaceConfigEntry, kept_unique_ids: set[str]) -> None:
    """Entities of cameras no longer chosen in the options leave the registry."""
    registry = er.async_get(hass)
    for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
        if registered.domain == IMAGE_PROCESSING_DOMAIN and registered.unique_id not in kept_unique_ids:
            registry.async_remove(registered.entity_id)


def face_attributes(face: RecognizedFace) -> dict[str, Any]:
    return {
        ATTR_NAME: face.name or UNKNOWN_NAME,
        ATTR_CONFIDENCE: round(face.confidence * 100, 1),
        ATTR_BOUNDING_BOX: [round(v) for v in face.bbox],
        ATTR_IDENTITY_ID: face.identity_id,
    }


class HailoFaceCameraEntity(HailoFaceEntity, ImageProcessingFaceEntity):
    """The people a camera sees, from its scanner's last scan (on the timer, or on ``image_processing.scan``)."""

    _attr_should_poll = False
    _attr_translation_key = "faces"

    def __init__(self, hass: HomeAssistant, entry: HailoFaceConfigEntry, camera: str) -> None:
        ImageProcessingFaceEntity.__init__(self)
        HailoFaceEntity.__init__(self, entry, camera)
        state = hass.states.get(camera)
        self._attr_translation_placeholders = {"camera": state.name if state else camera}
        self._attr_camera_entity = camera
        self._attr_confidence = float(entry.options.get(CONF_CONFIDENCE, DEFAULT_CONFIDENCE))
        self._coordinator = entry.runtime_data.coordinator
        self._scanner = entry.runtime_data.scanners[camera]
        self._matched = 0
        self._last_detection: datetime | None = None

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self._coordinator.async_add_listener(self.async_write_ha_state))
        self.async_on_remove(self._scanner.async_add_listener(self._scanned))

    @property
    def available(self) -> bool:
        return self._coordinator.last_update_success

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        return {
            ATTR_TOTAL_MATCHED_FACES: self._matched,
            ATTR_LAST_DETECTION: self._last_detection.isoformat() if self._last_detection else None,
        }

    async def async_update(self) -> None:
        """``image_processing.scan``: the scanner scans; its result reaches ``_scanned``."""
        await self._scanner.async_scan()

    async def async_process_image(self, image: bytes) -> None:
        await self._scanner.async_process(image)

    @callback
    def _scanned(self, scan: Scan) -> None:
        faces = [face_attributes(face) for face in scan.faces]
        recognised = [dict(face) for face in faces if face[ATTR_NAME] != UNKNOWN_NAME]
        # Events for the people recognised (at or above the confidence, as the
        # server named only those); the state attributes list every face.
        self.async_process_faces(recognised, len(faces))  # type: ignore[arg-type]
        self.faces = faces  # type: ignore[assignment]
        self._matched = len(recognised)
        if faces:
            self._last_detection = scan.at
        if self.hass is not None and self.entity_id:
            self.async_write_ha_state()
