"""Coercing values that may arrive as text (environment, query strings, forms)."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from typing import Any

import voluptuous as vol


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "yes", "on", "1"}:
            return True
        if lowered in {"false", "no", "off", "0"}:
            return False
    raise vol.Invalid("expected a boolean (true or false)")


def integer(value: Any) -> int:
    if isinstance(value, bool):
        raise vol.Invalid("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and len(value) <= 40:
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise vol.Invalid("expected an integer")


def number(value: Any) -> float:
    if isinstance(value, bool):
        raise vol.Invalid("expected a number")
    result: float | None = None
    try:
        if isinstance(value, (int, float)):
            result = float(value)
        elif isinstance(value, str):
            result = float(value.strip())
    except (ValueError, OverflowError):  # OverflowError: an integer too large for a float
        result = None
    if result is None or not math.isfinite(result):
        raise vol.Invalid("expected a finite number")
    return result


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise vol.Invalid("expected a string")


def word_list(value: Any) -> tuple[str, ...]:
    """A list of words given as a list or as comma-separated text (e.g. from the environment)."""
    items = [text(item) for item in value] if isinstance(value, (list, tuple)) else text(value).split(",")
    return tuple(item.strip() for item in items if item.strip())


def address_list(value: Any) -> tuple[str, ...]:
    """IP addresses given as a list or comma-separated text, in their canonical spelling."""
    addresses = []
    for word in word_list(value):
        try:
            address = ipaddress.ip_address(word)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped  # peers are compared in this spelling
            addresses.append(str(address))
        except ValueError:
            raise vol.Invalid(f"{word!r} is not an IP address") from None
    return tuple(addresses)


def one_of(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        word = text(value).strip()
        word = word.upper() if upper else word.lower()
        if word not in choices:
            raise vol.Invalid(f"expected one of {', '.join(choices)}")
        return word

    return validate


def int_range(low: int, high: int) -> vol.All:
    return vol.All(integer, vol.Range(min=low, max=high, msg=f"expected an integer from {low} to {high}"))


def float_range(low: float, high: float) -> vol.All:
    return vol.All(number, vol.Range(min=low, max=high, msg=f"expected a number from {low:g} to {high:g}"))


def describe_invalid(error: vol.Invalid) -> str:
    """``path.to.key: what is wrong`` for one voluptuous error."""
    key = ".".join(str(part) for part in error.path) or "(top level)"
    if error.error_message == "extra keys not allowed":
        return f"{key}: unknown key"
    if error.error_message.startswith("expected a dictionary"):
        return f"{key}: expected a mapping of keys to values"
    return f"{key}: {error.error_message}"
