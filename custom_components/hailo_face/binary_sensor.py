"""Whether the server answers; per person, whether a camera saw them in the last minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .const import CONF_SEEN_MINUTES, DEFAULT_SEEN_MINUTES
from .coordinator import HailoFaceCoordinator, PeopleCoordinator, Person
from .data import HailoFaceConfigEntry
from .entity import HailoFaceEntity, person_device_info, person_identifier
from .people import PersonEntities

# Coordinator-driven: nothing polls on its own.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: HailoFaceConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_add_entities([HailoFaceServerSensor(entry)])
    PersonEntities(entry, async_add_entities, lambda key, person: [SeenRecently(entry, key, person)]).async_start()


class HailoFaceServerSensor(CoordinatorEntity[HailoFaceCoordinator], HailoFaceEntity, BinarySensorEntity):
    """On while the server answers; off (never unavailable) when it does not."""

    _attr_translation_key = "server"
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: HailoFaceConfigEntry) -> None:
        CoordinatorEntity.__init__(self, entry.runtime_data.coordinator)
        HailoFaceEntity.__init__(self, entry, "server")

    @property
    def available(self) -> bool:
        return True

    @property
    def is_on(self) -> bool:
        return self.coordinator.last_update_success

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        health = self.coordinator.data if self.coordinator.last_update_success else None
        return {"status": health.status if health else None, "backend": health.backend if health else None}


class SeenRecently(CoordinatorEntity[PeopleCoordinator], BinarySensorEntity):
    """On for the option's number of minutes after a camera last saw the person."""

    _attr_has_entity_name = True
    _attr_translation_key = "seen_recently"
    _attr_device_class = BinarySensorDeviceClass.PRESENCE

    def __init__(self, entry: HailoFaceConfigEntry, key: str, person: Person) -> None:
        super().__init__(entry.runtime_data.people)
        self._key = key
        self._window = timedelta(minutes=int(entry.options.get(CONF_SEEN_MINUTES, DEFAULT_SEEN_MINUTES)))
        self._attr_unique_id = f"{person_identifier(entry, key)}_seen_recently"
        self._attr_device_info = person_device_info(entry, key, person.identity.name)
        self._off_timer: CALLBACK_TYPE | None = None

    def _last_seen(self) -> datetime | None:
        person = self.coordinator.data.by_key.get(self._key)
        return person.seen.last_seen if person and person.seen else None

    @property
    def available(self) -> bool:
        return super().available and self._key in self.coordinator.data.by_key

    @property
    def is_on(self) -> bool:
        seen = self._last_seen()
        return seen is not None and dt_util.utcnow() - seen < self._window

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self._schedule_off()
        self.async_on_remove(self._cancel_timer)

    @callback
    def _handle_coordinator_update(self) -> None:
        self._schedule_off()
        super()._handle_coordinator_update()

    @callback
    def _schedule_off(self) -> None:
        """Turn off when the window after the last sighting ends, without waiting for a poll."""
        self._cancel_timer()
        seen = self._last_seen()
        if seen is not None and self.is_on:
            self._off_timer = async_track_point_in_utc_time(self.hass, self._window_ended, seen + self._window)

    @callback
    def _window_ended(self, _now: datetime) -> None:
        self._off_timer = None
        self.async_write_ha_state()

    @callback
    def _cancel_timer(self) -> None:
        if self._off_timer is not None:
            self._off_timer()
            self._off_timer = None
