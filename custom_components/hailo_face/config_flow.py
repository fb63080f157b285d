"""Config flow: a server by URL or announced by the add-on, then cameras; reauth, reconfigure, options."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo

from .api import AuthFailed, CannotConnect, HailoFaceClient, HailoFaceError
from .const import (
    CONF_ADDON_SLUG,
    CONF_CAMERAS,
    CONF_CONFIDENCE,
    CONF_EVENT_COOLDOWN,
    CONF_MAX_FACES,
    CONF_SCAN_INTERVAL,
    CONF_SEEN_MINUTES,
    DEFAULT_CONFIDENCE,
    DEFAULT_EVENT_COOLDOWN,
    DEFAULT_MAX_FACES,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SEEN_MINUTES,
    DEFAULT_TITLE,
    DEFAULT_URL,
    DOMAIN,
    MAX_FACES_RANGE,
)
from .data import HailoFaceConfigEntry

URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
KEY_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
CAMERAS_SELECTOR = EntitySelector(EntitySelectorConfig(domain="camera", multiple=True))


def connection_schema(url: str = DEFAULT_URL, api_key: str = "") -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_URL, default=url): URL_SELECTOR,
            vol.Optional(CONF_API_KEY, description={"suggested_value": api_key}): KEY_SELECTOR,
        }
    )


def options_schema(options: dict[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Optional(CONF_CAMERAS, default=options.get(CONF_CAMERAS, [])): CAMERAS_SELECTOR,
            vol.Required(CONF_CONFIDENCE, default=options.get(CONF_CONFIDENCE, DEFAULT_CONFIDENCE)): NumberSelector(
                NumberSelectorConfig(min=0, max=100, step=1, unit_of_measurement="%", mode=NumberSelectorMode.SLIDER)
            ),
            vol.Required(
                CONF_SCAN_INTERVAL, default=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
            ): NumberSelector(
                NumberSelectorConfig(min=0, max=3600, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_MAX_FACES, default=options.get(CONF_MAX_FACES, DEFAULT_MAX_FACES)): NumberSelector(
                NumberSelectorConfig(
                    min=MAX_FACES_RANGE[0], max=MAX_FACES_RANGE[1], step=1, mode=NumberSelectorMode.BOX
                )
            ),
            vol.Required(
                CONF_EVENT_COOLDOWN, default=options.get(CONF_EVENT_COOLDOWN, DEFAULT_EVENT_COOLDOWN)
            ): NumberSelector(
                NumberSelectorConfig(min=0, max=3600, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX)
            ),
            vol.Required(
                CONF_SEEN_MINUTES, default=options.get(CONF_SEEN_MINUTES, DEFAULT_SEEN_MINUTES)
            ): NumberSelector(
                NumberSelectorConfig(min=1, max=1440, step=1, unit_of_measurement="min", mode=NumberSelectorMode.BOX)
            ),
        }
    )


def clean_options(user_input: dict[str, Any]) -> dict[str, Any]:
    return {
        CONF_CAMERAS: list(user_input.get(CONF_CAMERAS, [])),
        CONF_CONFIDENCE: float(user_input[CONF_CONFIDENCE]),
        CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
        CONF_MAX_FACES: int(user_input[CONF_MAX_FACES]),
        CONF_EVENT_COOLDOWN: int(user_input.get(CONF_EVENT_COOLDOWN, DEFAULT_EVENT_COOLDOWN)),
        CONF_SEEN_MINUTES: int(user_input.get(CONF_SEEN_MINUTES, DEFAULT_SEEN_MINUTES)),
    }


DEFAULT_OPTIONS = clean_options(
    {CONF_CONFIDENCE: DEFAULT_CONFIDENCE, CONF_SCAN_INTERVAL: DEFAULT_SCAN_INTERVAL, CONF_MAX_FACES: DEFAULT_MAX_FACES}
)


class HailoFaceConfigFlow(ConfigFlow, domain=DOMAIN):
    VERSION = 1

    def __init__(self) -> None:
        self._connection: dict[str, Any] = {}
        self._addon_name = ""

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: HailoFaceConfigEntry) -> HailoFaceOptionsFlow:
        return HailoFaceOptionsFlow()

    async def _server_id(self, url: str, api_key: str) -> str:
        """Connect with these settings and return the server's id."""
        client = HailoFaceClient(url, api_key or None, async_get_clientsession(self.hass))
        info = await client.info()
        return info.server_id

    async def _check(self, user_input: dict[str, Any], errors: dict[str, str]) -> str | None:
        try:
            return await self._server_id(user_input[CONF_URL], user_input.get(CONF_API_KEY, ""))
        except AuthFailed:
            errors[CONF_API_KEY] = "invalid_auth"
        except CannotConnect:
            errors["base"] = "cannot_connect"
        except (HailoFaceError, KeyError):
            errors["base"] = "not_hailo_face"
        return None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            server_id = await self._check(user_input, errors)
            if server_id is not None:
                await self.async_set_unique_id(server_id)
                self._abort_if_unique_id_configured(updates=self._connection_data(user_input))
                self._connection = self._connection_data(user_input)
                return await self.async_step_cameras()
        defaults = user_input or {}
        return self.async_show_form(
            step_id="user",
            data_schema=connection_schema(defaults.get(CONF_URL, DEFAULT_URL), defaults.get(CONF_API_KEY, "")),
            errors=errors,
        )

    @staticmethod
    def _connection_data(user_input: dict[str, Any]) -> dict[str, Any]:
        return {CONF_URL: user_input[CONF_URL].rstrip("/"), CONF_API_KEY: user_input.get(CONF_API_KEY, "")}

    async def async_step_hassio(self, discovery_info: HassioServiceInfo) -> ConfigFlowResult:
        """The add-on announced itself: host, port and its API key."""
        config = discovery_info.config
        connection = {
            CONF_URL: f"http://{config['host']}:{config['port']}",
            CONF_API_KEY: str(config.get("api_key") or ""),
            CONF_ADDON_SLUG: discovery_info.slug,  # its web page is this app's sidebar panel (ingress)
        }
        try:
            server_id = await self._server_id(connection[CONF_URL], connection[CONF_API_KEY])
        except CannotConnect:
            return self.async_abort(reason="cannot_connect")
        except HailoFaceError:
            return self.async_abort(reason="not_hailo_face")
        await self.async_set_unique_id(server_id)
        self._abort_if_unique_id_configured(updates=connection)
        self._connection = connection
        self._addon_name = discovery_info.name
        return await self.async_step_hassio_confirm()

    async def async_step_hassio_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            return await self.async_step_cameras()
        return self.async_show_form(step_id="hassio_confirm", description_placeholders={"addon": self._addon_name})

    async def async_step_cameras(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Which cameras get a face-recognition entity (changeable later in the options)."""
        if user_input is not None:
            return self.async_create_entry(
                title=DEFAULT_TITLE,
                data=self._connection,
                options={**DEFAULT_OPTIONS, CONF_CAMERAS: list(user_input.get(CONF_CAMERAS, []))},
            )
        return self.async_show_form(
            step_id="cameras", data_schema=vol.Schema({vol.Optional(CONF_CAMERAS, default=[]): CAMERAS_SELECTOR})
        )

    async def async_step_reauth(self, entry_data: dict[str, Any]) -> ConfigFlowResult:
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            candidate = {CONF_URL: entry.data[CONF_URL], CONF_API_KEY: user_input.get(CONF_API_KEY, "")}
            server_id = await self._check(candidate, errors)
            if server_id is not None:
                await self.async_set_unique_id(server_id)
                self._abort_if_unique_id_mismatch(reason="wrong_server")
                return self.async_update_reload_and_abort(entry, data_updates=candidate)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Optional(CONF_API_KEY): KEY_SELECTOR}),
            description_placeholders={"url": entry.data[CONF_URL]},
            errors=errors,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            server_id = await self._check(user_input, errors)
            if server_id is not None:
                await self.async_set_unique_id(server_id)
                self._abort_if_unique_id_mismatch(reason="wrong_server")
                return self.async_update_reload_and_abort(entry, data_updates=self._connection_data(user_input))
        current = user_input or entry.data
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=connection_schema(current.get(CONF_URL, DEFAULT_URL), current.get(CONF_API_KEY, "")),
            errors=errors,
        )


class HailoFaceOptionsFlow(OptionsFlow):
    """Cameras, confidence, scan interval and the most faces per image; applied by reloading the entry."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(data=clean_options(user_input))
        return self.async_show_form(
            step_id="init", data_schema=options_schema({**DEFAULT_OPTIONS, **self.config_entry.options})
        )
