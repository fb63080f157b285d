"""Typed runtime data of a Hailo Face config entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from homeassistant.config_entries import ConfigEntry

from .api import HailoFaceClient

if TYPE_CHECKING:
    from .coordinator import HailoFaceCoordinator


@dataclass
class HailoFaceData:
    client: HailoFaceClient
    coordinator: HailoFaceCoordinator
    server_info: dict[str, Any]

    @property
    def server_id(self) -> str:
        return str(self.server_info["server_id"])


HailoFaceConfigEntry: TypeAlias = ConfigEntry[HailoFaceData]
