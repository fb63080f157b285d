"""What a person's name may be: one rule for adding, renaming, importing and looking up.

A name is taken in Unicode's compatibility form (NFKC: fullwidth ``\uff5a\uff45\uff44`` is
``zed``), with every run of spaces (any Unicode space, also no-break) made one
space and the ends trimmed. Two names are the same person when they differ only
in case. Names that show nothing (only invisible or blank characters), that
hold control characters or slashes, or that look like a reserved word
(``unkn\u043ewn`` with a Cyrillic o) are refused.
"""

from __future__ import annotations

import re
import unicodedata

from hailo_face_server.errors import InvalidName

MAX_NAME_LENGTH = 64
RESERVED_NAMES = frozenset({"unknown", "ignored"})
_FORBIDDEN = frozenset("/\\")
_SPACES = re.compile(r"\s+")
# Characters that draw nothing although Unicode does not call them spaces or format characters.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u17b4\u17b5")
_INVISIBLE_CATEGORIES = frozenset({"Mn", "Me", "Zs"})
# Control, format (bidirectional overrides, zero-width joiners), private and unassigned characters.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters from other scripts that look like the Latin letters of the reserved names.
_LOOK_ALIKES = str.maketrans(  # Cyrillic, Armenian, Greek and Latin look-alikes
    {
        "\u0430": "a",
        "\u0435": "e",
        "\u0456": "i",
        "\u043a": "k",
        "\u043d": "h",
        "\u043e": "o",
        "\u0440": "p",
        "\u0441": "c",
        "\u0443": "y",
        "\u0445": "x",
        "\u0501": "d",
        "\u051d": "w",
        "\u0578": "n",
        "\u057d": "u",
        "\u0261": "g",
        "\u03b1": "a",
        "\u03b5": "e",
        "\u03b9": "i",
        "\u03ba": "k",
        "\u03bd": "v",
        "\u03bf": "o",
        "\u03c1": "p",
        "\u03c5": "u",
        "\u03c9": "w",
        "\u0131": "i",
        "0": "o",
        "1": "l",
    }
)


def _folded(raw: str) -> str:
    """NFKC, spaces made single and trimmed (what is stored and shown)."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", raw)).strip()


def _shows_something(name: str) -> bool:
    return any(ch not in _BLANK and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES for ch in name)


def _skeleton(name: str) -> str:
    """The name with look-alike letters and marks replaced, to compare with the reserved names."""
    stripped = "".join(ch for ch in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(ch))
    return "".join(ch for ch in stripped.translate(_LOOK_ALIKES) if not unicodedata.category(ch).startswith("C"))


def normalize_name(raw: object) -> str:
    """A clean display name, or InvalidName saying what is wrong."""
    if not isinstance(raw, str):
        raise InvalidName("The name must be a string.")
    if len(raw) > 4 * MAX_NAME_LENGTH:
        raise InvalidName(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in raw):  # tabs and line breaks too
        raise InvalidName("The name may not contain slashes, backslashes or control characters.")
    name = _folded(raw)
    if not name:
        raise InvalidName("The name is empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    if any(ch in _FORBIDDEN or unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in name):
        raise InvalidName("The name may not contain slashes, backslashes or control characters.")
    if not _shows_something(name):
        raise InvalidName("The name has no visible characters.")
    if _skeleton(name) in RESERVED_NAMES:
        raise InvalidName(f'"{name}" is, or looks like, a word reserved for faces that are not a person.')
    return name


def name_key(name: str) -> str:
    """The key a name is stored and looked up by: names that differ only in case or spacing are the same."""
    return _folded(name).casefold()
