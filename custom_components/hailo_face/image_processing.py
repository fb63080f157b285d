"""One face-recognition entity per camera.

``image_processing`` has no config-entry support of its own; the integration
loads this platform through the component's EntityComponent (see __init__).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.camera import async_get_image
from homeassistant.components.image_processing import DOMAIN as IMAGE_PROCESSING_DOMAIN
from homeassistant.components.image_processing import ImageProcessingFaceEntity
from homeassistant.const import ATTR_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .api import AuthFailed, CannotConnect, HailoFaceError, RecognizedFace, ServerBusy
from .const import (
    ATTR_BOUNDING_BOX,
    ATTR_IDENTITY_ID,
    ATTR_LAST_DETECTION,
    ATTR_TOTAL_MATCHED_FACES,
    CONF_CAMERAS,
    CONF_CONFIDENCE,
    CONF_MAX_FACES,
    CONF_SCAN_INTERVAL,
    DEFAULT_CONFIDENCE,
    DEFAULT_MAX_FACES,
    DEFAULT_SCAN_INTERVAL,
    UNKNOWN_NAME,
)
from .data import HailoFaceConfigEntry
from .entity import HailoFaceEntity

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
    """Recognises the people a camera sees: on a timer, or on ``image_processing.scan``."""

    _attr_should_poll = False
    _attr_translation_key = "faces"

    def __init__(self, hass: HomeAssistant, entry: HailoFaceConfigEntry, camera: str) -> None:
        ImageProcessingFaceEntity.__init__(self)
        HailoFaceEntity.__init__(self, entry, camera)
        options = entry.options
        state = hass.states.get(camera)
        self._attr_translation_placeholders = {"camera": state.name if state else camera}
        self._attr_camera_entity = camera
        self._attr_confidence = float(options.get(CONF_CONFIDENCE, DEFAULT_CONFIDENCE))
        self._scan_seconds = int(options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL))
        self._max_faces = int(options.get(CONF_MAX_FACES, DEFAULT_MAX_FACES))
        self._coordinator = entry.runtime_data.coordinator
        self._client = entry.runtime_data.client
        self._scanning = asyncio.Lock()
        self._camera_failing = False
        self._matched = 0
        self._last_detection: datetime | None = None

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self._coordinator.async_add_listener(self.async_write_ha_state))
        if self._scan_seconds > 0:
            self.async_on_remove(
                async_track_time_interval(
                    self.hass,
                    self._async_scheduled_scan,
                    timedelta(seconds=self._scan_seconds),
                    name=f"hailo_face scan {self.camera_entity}",
                )
            )

    @property
    def available(self) -> bool:
        return self._coordinator.last_update_success

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        return {
            ATTR_TOTAL_MATCHED_FACES: self._matched,
            ATTR_LAST_DETECTION: self._last_detection.isoformat() if self._last_detection else None,
        }

    @callback
    def _async_scheduled_scan(self, _now: datetime) -> None:
        if not self._scanning.locked() and self.available:
            self.hass.async_create_task(self.async_update_ha_state(force_refresh=True), eager_start=True)

    async def async_update(self) -> None:
        """Fetch the camera's image and recognise it; one scan at a time per camera."""
        if self._scanning.locked():
            return
        async with self._scanning:
            assert self.camera_entity is not None
            try:
                image = await async_get_image(self.hass, self.camera_entity, timeout=self.timeout)
            except HomeAssistantError as err:
                if not self._camera_failing:
                    _LOGGER.warning("Cannot get an image from %s: %s", self.camera_entity, err)
                    self._camera_failing = True
                return
            if self._camera_failing:
                _LOGGER.info("Images from %s arrive again", self.camera_entity)
                self._camera_failing = False
            await self.async_process_image(image.content)

    async def async_process_image(self, image: bytes) -> None:
        try:
            result = await self._client.recognize(
                image,
                threshold=(self.confidence or 0) / 100,
                max_faces=self._max_faces,
                source=self.camera_entity,
            )
        except CannotConnect as err:
            self._coordinator.async_set_update_error(err)
            return
        except AuthFailed:
            self.entry.async_start_reauth(self.hass)
            return
        except ServerBusy as err:
            _LOGGER.debug("Skipped a scan of %s: %s", self.camera_entity, err.message)
            return
        except HailoFaceError as err:
            _LOGGER.warning("Recognition failed for %s: %s", self.camera_entity, err.message)
            return
        if not self._coordinator.last_update_success:
            await self._coordinator.async_request_refresh()
        # Faces the owner chose to ignore (a poster, a TV) are neither people nor strangers.
        faces = [face_attributes(face) for face in result.faces if face.outcome != "ignored"]
        recognised = [dict(face) for face in faces if face[ATTR_NAME] != UNKNOWN_NAME]
        # Events for the people recognised (at or above the confidence, as the
        # server named only those); the state attributes list every face.
        self.async_process_faces(recognised, len(faces))  # type: ignore[arg-type]
        self.faces = faces  # type: ignore[assignment]
        self._matched = len(recognised)
        if faces:
            self._last_detection = dt_util.utcnow()
