"""How many people the server knows."""

from __future__ import annotations

from homeassistant.components.sensor import SensorEntity, SensorStateClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import HailoFaceCoordinator
from .data import HailoFaceConfigEntry
from .entity import HailoFaceEntity


async def async_setup_entry(
    hass: HomeAssistant, entry: HailoFaceConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_add_entities([HailoFaceIdentitiesSensor(entry)])


class HailoFaceIdentitiesSensor(CoordinatorEntity[HailoFaceCoordinator], HailoFaceEntity, SensorEntity):
    _attr_translation_key = "identities"
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, entry: HailoFaceConfigEntry) -> None:
        CoordinatorEntity.__init__(self, entry.runtime_data.coordinator)
        HailoFaceEntity.__init__(self, entry, "identities")

    @property
    def native_value(self) -> int | None:
        value = self.coordinator.data.get("identities")
        return int(value) if value is not None else None
