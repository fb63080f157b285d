"""Pictures: per camera its last face (the server's crop) and last frame (boxes and names drawn,
disabled by default); per person their avatar (their most typical sample)."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api import HailoFaceClient, HailoFaceError
from .const import CONF_CAMERAS
from .coordinator import PeopleCoordinator, Person
from .data import HailoFaceConfigEntry
from .entity import camera_device_info, person_device_info, person_identifier
from .people import PersonEntities
from .scanner import CameraScanner, Scan

# Coordinator-driven: nothing polls on its own.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class CameraImageDescription(ImageEntityDescription):
    """What a camera's picture shows, from its last scan with a face."""

    picture: Callable[[HomeAssistant, HailoFaceClient, Scan], Awaitable[bytes | None]]


async def _last_face(hass: HomeAssistant, client: HailoFaceClient, scan: Scan) -> bytes | None:
    """The server's crop of the scan's largest face (the one nearest the camera)."""
    faces = [f for f in scan.faces if f.sighting_id is not None]
    if not faces:
        return None
    largest = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
    assert largest.sighting_id is not None
    try:
        return await client.sighting_image(largest.sighting_id)
    except HailoFaceError:
        return None  # purged or deleted meanwhile


async def _last_frame(hass: HomeAssistant, client: HailoFaceClient, scan: Scan) -> bytes | None:
    try:
        return await hass.async_add_executor_job(draw_faces, scan)
    except (OSError, ValueError):  # an image the camera sent that Pillow cannot read: no picture
        return None


def draw_faces(scan: Scan) -> bytes:
    """The camera's image with a box and a name (or "unknown") on each face, as JPEG."""
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(scan.image)).convert("RGB")
    draw = ImageDraw.Draw(image)
    width = max(2, round(min(image.size) / 200))
    for face in scan.faces:
        x1, y1, x2, y2 = face.bbox
        colour = (3, 169, 244) if face.outcome == "named" else (255, 152, 0)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        label = face.name if face.outcome == "named" and face.name else "unknown"
        draw.text((x1 + width, max(0, y1 - 12 - width)), label, fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


CAMERA_IMAGES = (
    CameraImageDescription(key="last_face", translation_key="last_face", picture=_last_face),
    CameraImageDescription(
        key="last_frame", translation_key="last_frame", picture=_last_frame, entity_registry_enabled_default=False
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: HailoFaceConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    scanners = entry.runtime_data.scanners
    async_add_entities(
        CameraImage(hass, entry, scanners[camera], description)
        for camera in entry.options.get(CONF_CAMERAS, [])
        for description in CAMERA_IMAGES
    )
    PersonEntities(
        entry, async_add_entities, lambda key, person: [PersonAvatar(hass, entry, key, person)]
    ).async_start()


class CameraImage(ImageEntity):
    _attr_has_entity_name = True
    _attr_content_type = "image/jpeg"
    entity_description: CameraImageDescription

    def __init__(
        self,
        hass: HomeAssistant,
        entry: HailoFaceConfigEntry,
        scanner: CameraScanner,
        description: CameraImageDescription,
    ) -> None:
        super().__init__(hass)
        self.entity_description = description
        self._server = entry.runtime_data.client
        self._scanner = scanner
        self._attr_unique_id = f"{entry.runtime_data.server_id}_{scanner.camera}_{description.key}"
        self._attr_device_info = camera_device_info(hass, entry, scanner.camera)
        self._shown: Scan | None = None
        self._cached: tuple[Scan, bytes | None] | None = None

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(self._scanner.async_add_listener(self._scanned))
        if self._scanner.last_with_faces is not None:
            self._scanned(self._scanner.last_with_faces)

    @callback
    def _scanned(self, scan: Scan) -> None:
        if not scan.faces:
            return
        self._shown = scan
        self._attr_image_last_updated = scan.at
        self.async_write_ha_state()

    async def async_image(self) -> bytes | None:
        scan = self._shown
        if scan is None:
            return None
        if self._cached is None or self._cached[0] is not scan:
            self._cached = (scan, await self.entity_description.picture(self.hass, self._server, scan))
        return self._cached[1]


class PersonAvatar(CoordinatorEntity[PeopleCoordinator], ImageEntity):
    """A person's most typical sample: for a person card or a notification."""

    _attr_has_entity_name = True
    _attr_translation_key = "avatar"
    _attr_content_type = "image/jpeg"

    def __init__(self, hass: HomeAssistant, entry: HailoFaceConfigEntry, key: str, person: Person) -> None:
        CoordinatorEntity.__init__(self, entry.runtime_data.people)
        ImageEntity.__init__(self, hass)
        self._key = key
        self._server = entry.runtime_data.client
        self._attr_unique_id = f"{person_identifier(entry, key)}_avatar"
        self._attr_device_info = person_device_info(entry, key, person.identity.name)
        self._avatar: tuple[str, int] | None = None
        self._update_avatar(person)

    @property
    def available(self) -> bool:
        return super().available and self._key in self.coordinator.data.by_key

    def _update_avatar(self, person: Person) -> None:
        face = person.identity.avatar_face_id
        avatar = (person.identity.name, face) if face is not None else None
        if avatar != self._avatar:
            self._avatar = avatar
            self._cached: bytes | None = None
            self._attr_image_last_updated = datetime.now().astimezone()

    @callback
    def _handle_coordinator_update(self) -> None:
        person = self.coordinator.data.by_key.get(self._key)
        if person is not None:
            self._update_avatar(person)
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        if self._avatar is None:
            return None
        if self._cached is None:
            try:
                self._cached = await self._server.face_image(*self._avatar)
            except HailoFaceError:
                return None
        return self._cached
