"""Typed runtime data of a Hailo Face config entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from homeassistant.config_entries import ConfigEntry

from .api import HailoFaceClient, ServerInfo

if TYPE_CHECKING:
    from .coordinator import HailoFaceCoordinator, PeopleCoordinator
    from .scanner import CameraScanner


@dataclass
class HailoFaceData:
    client: HailoFaceClient
    coordinator: HailoFaceCoordinator
    people: PeopleCoordinator
    server_info: ServerInfo
    scanners: dict[str, CameraScanner] = field(default_factory=dict)  # by camera entity id
    server_device_id: str = ""  # the server's device in the registry: cameras and people hang from it

    @property
    def server_id(self) -> str:
        return self.server_info.server_id


HailoFaceConfigEntry: TypeAlias = ConfigEntry[HailoFaceData]
