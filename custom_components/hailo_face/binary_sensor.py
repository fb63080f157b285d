"""Whether the server answers."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import HailoFaceCoordinator
from .data import HailoFaceConfigEntry
from .entity import HailoFaceEntity


async def async_setup_entry(
    hass: HomeAssistant, entry: HailoFaceConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_add_entities([HailoFaceServerSensor(entry)])


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
        data = (self.coordinator.data or {}) if self.coordinator.last_update_success else {}
        return {"status": data.get("status"), "backend": data.get("backend")}
