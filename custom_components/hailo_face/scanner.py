"""One scanner per watched camera: get its image, recognise it, keep the last result.

The camera's entities (image_processing, event, last face, last frame) read
the scanner instead of scanning themselves: a scan happens once, on the
timer or on ``image_processing.scan``, and every listener sees its result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from homeassistant.components.camera import async_get_image
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .api import AuthFailed, CannotConnect, HailoFaceError, Recognition, RecognizedFace, ServerBusy
from .data import HailoFaceConfigEntry

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scan:
    """One recognised camera image."""

    camera: str
    at: datetime
    image: bytes
    recognition: Recognition

    @property
    def faces(self) -> list[RecognizedFace]:
        """The faces that are people or strangers; ignored ones (posters, TVs) are neither."""
        return [face for face in self.recognition.faces if face.outcome != "ignored"]


class CameraScanner:
    def __init__(
        self,
        hass: HomeAssistant,
        entry: HailoFaceConfigEntry,
        camera: str,
        *,
        threshold: float,
        max_faces: int,
        interval_s: int,
        timeout: int = 10,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.camera = camera
        self._threshold = threshold
        self._max_faces = max_faces
        self._interval_s = interval_s
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[Scan], None]] = []
        self._camera_failing = False
        self.last: Scan | None = None  # the last scan
        self.last_with_faces: Scan | None = None  # the last scan that found a face

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Scan on the timer (an interval of 0: only when asked); returns the stop callback."""
        if self._interval_s <= 0:
            return lambda: None
        return async_track_time_interval(
            self.hass, self._scheduled, timedelta(seconds=self._interval_s), name=f"hailo_face scan {self.camera}"
        )

    @callback
    def async_add_listener(self, listener: Callable[[Scan], None]) -> CALLBACK_TYPE:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def _scheduled(self, _now: datetime) -> None:
        if not self._lock.locked() and self.entry.runtime_data.coordinator.last_update_success:
            self.entry.async_create_background_task(self.hass, self.async_scan(), f"hailo_face scan {self.camera}")

    async def async_scan(self) -> Scan | None:
        """Get the camera's image and recognise it; one scan at a time (a scan asked during one is skipped)."""
        if self._lock.locked():
            return None
        async with self._lock:
            try:
                image = await async_get_image(self.hass, self.camera, timeout=self._timeout)
            except HomeAssistantError as err:
                if not self._camera_failing:
                    _LOGGER.warning("Cannot get an image from %s: %s", self.camera, err)
                    self._camera_failing = True
                return None
            if self._camera_failing:
                _LOGGER.info("Images from %s arrive again", self.camera)
                self._camera_failing = False
            return await self.async_process(image.content)

    async def async_process(self, image: bytes) -> Scan | None:
        """Recognise one image of this camera and tell every listener."""
        data = self.entry.runtime_data
        try:
            recognition = await data.client.recognize(
                image, threshold=self._threshold, max_faces=self._max_faces, source=self.camera
            )
        except CannotConnect as err:
            data.coordinator.async_set_update_error(err)
            return None
        except AuthFailed:
            self.entry.async_start_reauth(self.hass)
            return None
        except ServerBusy as err:
            _LOGGER.debug("Skipped a scan of %s: %s", self.camera, err.message)
            return None
        except HailoFaceError as err:
            _LOGGER.warning("Recognition failed for %s: %s", self.camera, err.message)
            return None
        if not data.coordinator.last_update_success:
            await data.coordinator.async_request_refresh()
        scan = Scan(self.camera, dt_util.utcnow(), image, recognition)
        self.last = scan
        if scan.faces:
            self.last_with_faces = scan
        for listener in list(self._listeners):
            listener(scan)
        if any(face.outcome == "named" for face in scan.faces):
            self.entry.async_create_background_task(  # last seen, now; the entities above do not wait for it
                self.hass, data.people.async_request_refresh(), "hailo_face people after a scan"
            )
        return scan
