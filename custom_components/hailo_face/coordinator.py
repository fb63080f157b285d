"""Two coordinators: the server's /health (reachability, status, repairs) and its people.

The health coordinator raises a repair issue while the server runs degraded or
fell back to the CPU, with the server's reason, and clears it when it recovers.
The people coordinator keeps who is known and when each was last seen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .api import HailoFaceClient, HailoFaceError, Health, Identity, InvalidInput, NotFound, PersonSeen
from .const import DOMAIN, HEALTH_POLL_SECONDS, PEOPLE_POLL_SECONDS

if TYPE_CHECKING:
    from .data import HailoFaceConfigEntry

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

ISSUE_DEGRADED = "degraded"
ISSUE_FALLBACK = "fallback"
DOCS = "https://github.com/hailo-face/hailo-face/blob/main/addon/DOCS.md"
LEARN_MORE = {ISSUE_FALLBACK: f"{DOCS}#one-app-at-a-time-on-the-hailo", ISSUE_DEGRADED: f"{DOCS}#troubleshooting"}


def _update_failed(err: HailoFaceError) -> UpdateFailed:
    return UpdateFailed(
        translation_domain=DOMAIN, translation_key="cannot_connect", translation_placeholders={"error": err.message}
    )


class ServerCoordinator(DataUpdateCoordinator[T]):
    """Polls one thing from the entry's server every ``poll_seconds``."""

    config_entry: HailoFaceConfigEntry
    label: str
    poll_seconds: int

    def __init__(self, hass: HomeAssistant, entry: HailoFaceConfigEntry, client: HailoFaceClient) -> None:
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=self.label,
            update_interval=timedelta(seconds=self.poll_seconds),
        )
        self.client = client


class HailoFaceCoordinator(ServerCoordinator[Health]):
    label = DOMAIN
    poll_seconds = HEALTH_POLL_SECONDS

    async def _async_update_data(self) -> Health:
        try:
            health = await self.client.health()
        except HailoFaceError as err:
            raise _update_failed(err) from err
        self._repairs(health)
        return health

    def _repairs(self, health: Health) -> None:
        fallback = health.fallback
        self._issue(
            ISSUE_FALLBACK,
            {"wanted": fallback.wanted, "reason": fallback.reason} if fallback else None,
            ir.IssueSeverity.WARNING,
        )
        problem = health.status in ("degraded", "error")  # running with a problem, or failed to start
        self._issue(ISSUE_DEGRADED, {"problem": health.problem or "-"} if problem else None, ir.IssueSeverity.ERROR)

    def _issue(self, key: str, placeholders: dict[str, str] | None, severity: ir.IssueSeverity) -> None:
        """Raise the repair issue ``key`` with these placeholders, or (None) clear it."""
        issue_id = f"{key}_{self.config_entry.entry_id}"
        if placeholders is None:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=severity,
            translation_key=key,
            translation_placeholders=placeholders,
            learn_more_url=LEARN_MORE[key],
        )


@dataclass(frozen=True)
class Person:
    identity: Identity
    seen: PersonSeen | None


def person_key(identity: Identity) -> str:
    """A person's key here (devices, unique ids): their id, which the server never gives twice."""
    return str(identity.id)


@dataclass(frozen=True)
class People:
    by_key: dict[str, Person]


class PeopleCoordinator(ServerCoordinator[People]):
    """Who the server knows (taught here, on the web page or anywhere) and when each was last seen."""

    label = f"{DOMAIN} people"
    poll_seconds = PEOPLE_POLL_SECONDS

    async def _async_update_data(self) -> People:
        try:
            identities = await self.client.list_identities()
            try:
                seen = {p.identity_id: p for p in await self.client.people_seen()}
            except (NotFound, InvalidInput):  # the server keeps no sightings (sightings off, or older)
                seen = {}
        except HailoFaceError as err:
            raise _update_failed(err) from err
        return People({person_key(i): Person(i, seen.get(i.id)) for i in identities})
