"""The server's count of known people; per person, when and where they were last seen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import HailoFaceCoordinator, PeopleCoordinator, Person
from .data import HailoFaceConfigEntry
from .entity import HailoFaceEntity, person_device_info, person_identifier
from .people import PersonEntities

# Coordinator-driven: nothing polls on its own.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class PersonSensorDescription(SensorEntityDescription):
    value: Callable[[Person], datetime | str | None]
    attributes: Callable[[Person], dict[str, Any]] = lambda _person: {}


PERSON_SENSORS = (
    PersonSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        value=lambda p: p.seen.last_seen if p.seen else None,
        attributes=lambda p: (
            {"camera": p.seen.source, "confidence": round(p.seen.confidence * 100, 1)} if p.seen else {}
        ),
    ),
    PersonSensorDescription(
        key="last_camera",
        translation_key="last_camera",
        value=lambda p: p.seen.source if p.seen else None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: HailoFaceConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_add_entities([HailoFaceIdentitiesSensor(entry)])
    PersonEntities(
        entry, async_add_entities, lambda key, person: [PersonSensor(entry, key, person, d) for d in PERSON_SENSORS]
    ).async_start()


class HailoFaceIdentitiesSensor(CoordinatorEntity[HailoFaceCoordinator], HailoFaceEntity, SensorEntity):
    _attr_translation_key = "identities"
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, entry: HailoFaceConfigEntry) -> None:
        CoordinatorEntity.__init__(self, entry.runtime_data.coordinator)
        HailoFaceEntity.__init__(self, entry, "identities")

    @property
    def native_value(self) -> int | None:
        return self.coordinator.data.identities


class PersonSensor(CoordinatorEntity[PeopleCoordinator], SensorEntity):
    _attr_has_entity_name = True
    entity_description: PersonSensorDescription

    def __init__(
        self, entry: HailoFaceConfigEntry, key: str, person: Person, description: PersonSensorDescription
    ) -> None:
        super().__init__(entry.runtime_data.people)
        self.entity_description = description
        self._key = key
        self._attr_unique_id = f"{person_identifier(entry, key)}_{description.key}"
        self._attr_device_info = person_device_info(entry, key, person.identity.name)

    @property
    def _person(self) -> Person | None:
        return self.coordinator.data.by_key.get(self._key)

    @property
    def available(self) -> bool:
        return super().available and self._person is not None

    @property
    def native_value(self) -> datetime | str | None:
        person = self._person
        return self.entity_description.value(person) if person else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        person = self._person
        return self.entity_description.attributes(person) if person else {}
