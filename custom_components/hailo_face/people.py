"""Known people as devices: added as people are taught, renamed with them, removed when forgotten.

Wherever a person is taught or forgotten (an action here, the web page, any
API client), the people coordinator's next poll brings it here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .coordinator import Person
from .data import HailoFaceConfigEntry
from .entity import person_identifier


class PersonEntities:
    """Adds a platform's entities for each person the people coordinator reports for the first time."""

    def __init__(
        self,
        entry: HailoFaceConfigEntry,
        add: AddConfigEntryEntitiesCallback,
        make: Callable[[str, Person], Iterable[Entity]],
    ) -> None:
        self._entry = entry
        self._add = add
        self._make = make
        self._known: set[str] = set()  # person keys

    @callback
    def async_start(self) -> None:
        self._added()
        self._entry.async_on_unload(self._entry.runtime_data.people.async_add_listener(self._added))

    @callback
    def _added(self) -> None:
        people = self._entry.runtime_data.people.data
        new = [key for key in people.by_key if key not in self._known]
        self._known &= set(people.by_key)
        self._known |= set(new)
        if new:
            self._add([entity for key in new for entity in self._make(key, people.by_key[key])])


@callback
def async_track_person_devices(hass: HomeAssistant, entry: HailoFaceConfigEntry) -> Callable[[], None]:
    """Keep person devices in step with the server: renamed with the person, removed when forgotten."""
    registry = dr.async_get(hass)
    people = entry.runtime_data.people
    prefix = f"{entry.runtime_data.server_id}_person_"

    @callback
    def sync() -> None:
        if not people.last_update_success:
            return  # an unreachable server forgets no one
        names = {person_identifier(entry, key): p.identity.name for key, p in people.data.by_key.items()}
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
            identifier = next((v for d, v in device.identifiers if d == DOMAIN and v.startswith(prefix)), None)
            if identifier is None:
                continue
            if identifier not in names:
                registry.async_remove_device(device.id)
            elif device.name != names[identifier]:
                registry.async_update_device(device.id, name=names[identifier])

    sync()
    return people.async_add_listener(sync)
