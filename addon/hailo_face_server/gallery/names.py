"""What a person's name may be."""

from __future__ import annotations

import unicodedata

from hailo_face_server.errors import InvalidName

MAX_NAME_LENGTH = 64
RESERVED_NAMES = frozenset({"unknown"})
_FORBIDDEN = frozenset("/\\")


def normalize_name(raw: object) -> str:
    """A clean display name, or InvalidName saying what is wrong."""
    if not isinstance(raw, str):
        raise InvalidName("The name must be a string.")
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise InvalidName("The name is empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    if any(ch in _FORBIDDEN or unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for ch in name):
        raise InvalidName("The name may not contain slashes, backslashes or control characters.")
    if name_key(name) in RESERVED_NAMES:
        raise InvalidName(f'"{name}" is reserved for faces nobody knows.')
    return name


def name_key(name: str) -> str:
    """Names that differ only in case are the same person."""
    return unicodedata.normalize("NFC", name).casefold()
