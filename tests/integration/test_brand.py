"""Home Assistant (2026.3 and newer) serves a custom integration's own brand images."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.hailo_face.const import DOMAIN
from tests.integration.test_package import PACKAGE


async def test_home_assistant_serves_our_icon(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> None:
    try:
        from homeassistant.components import brands  # noqa: F401
    except ImportError:
        pytest.skip("this Home Assistant has no brands component (before 2026.3): it takes icons from the brands CDN")
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    for image in ("icon.png", "logo.png", "dark_logo.png"):
        response = await client.get(f"/api/brands/integration/{DOMAIN}/{image}")
        assert response.status == HTTPStatus.OK, image
        assert await response.read() == (PACKAGE / "brand" / image).read_bytes()
