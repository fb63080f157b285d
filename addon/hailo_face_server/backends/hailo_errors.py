"""Turning HailoRT failures into sentences that say what to do.

HailoRT raises its status as an exception class (``HailoRTTimeout``), as
``libhailort failed with error: 76 (HAILO_INVALID_DRIVER_VERSION)``, or, from
a few unwrapped calls, as a bare status number.
"""

from __future__ import annotations

import re
from pathlib import Path

STATUS_BY_NUMBER = {
    4: "HAILO_TIMEOUT",
    13: "HAILO_OPEN_FILE_FAILURE",
    26: "HAILO_INVALID_HEF",
    61: "HAILO_NOT_FOUND",
    73: "HAILO_DEVICE_IN_USE",
    74: "HAILO_OUT_OF_PHYSICAL_DEVICES",
    76: "HAILO_INVALID_DRIVER_VERSION",
    93: "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE",
}
STATUS_BY_CLASS = {
    "HailoRTTimeout": "HAILO_TIMEOUT",
    "HailoRTInvalidHEFException": "HAILO_INVALID_HEF",
    "HailoRTHEFNotCompatibleWithDevice": "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE",
    "HailoRTNotFoundException": "HAILO_NOT_FOUND",
}
_STATUS_NAME = re.compile(r"\b(HAILO_[A-Z_]+)\b")
DRIVER_VERSION_FILES = (Path("/sys/module/hailo_pci/version"), Path("/sys/module/hailo1x_pci/version"))
DEVICE_NODES = ("/dev/hailo0", "/dev/h1x-0")


def status_of(error: BaseException) -> str | None:
    """HailoRT's status name for an error or any error it was raised from."""
    current: BaseException | None = error
    while current is not None:
        name = STATUS_BY_CLASS.get(type(current).__name__)
        if name:
            return name
        text = str(current)
        found = _STATUS_NAME.search(text)
        if found:
            return found.group(1)
        if text.strip().isdigit():
            return STATUS_BY_NUMBER.get(int(text.strip()), f"status {text.strip()}")
        current = current.__cause__ or current.__context__
    return None


def driver_version() -> str | None:
    """The loaded kernel driver's version, from sysfs, if a Hailo driver is loaded."""
    for path in DRIVER_VERSION_FILES:
        try:
            return path.read_text(encoding="ascii").strip()
        except OSError:
            continue
    return None


def device_node_present() -> bool:
    return any(Path(node).exists() for node in DEVICE_NODES)


def explain(error: BaseException, library_version: str, context: str) -> str:
    """One sentence on what failed while ``context`` and what to do about it."""
    status = status_of(error)
    driver = driver_version()
    if status == "HAILO_INVALID_DRIVER_VERSION":
        return (
            f"{context}: the Hailo kernel driver ({driver or 'version unknown'}) and the HailoRT library "
            f"({library_version}) differ (HAILO_INVALID_DRIVER_VERSION); they must be exactly the same "
            "version. Home Assistant OS ships driver 4.21.0; check yours with "
            "'cat /sys/module/hailo_pci/version'."
        )
    if status == "HAILO_OUT_OF_PHYSICAL_DEVICES":
        return (
            f"{context}: no free Hailo device (HAILO_OUT_OF_PHYSICAL_DEVICES). Check that "
            f"{' or '.join(DEVICE_NODES)} exists, is passed to this container, and that no other "
            "program (e.g. Frigate) holds it."
        )
    if status == "HAILO_DEVICE_IN_USE":
        return f"{context}: the Hailo device is in use by another process (HAILO_DEVICE_IN_USE)."
    if status in ("HAILO_INVALID_HEF", "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE"):
        return (
            f"{context}: the HEF was compiled for another chip or HailoRT version ({status}); "
            "use the file for this chip from the Hailo Model Zoo (see docs/hailo.md)."
        )
    if status == "HAILO_OPEN_FILE_FAILURE":
        return f"{context}: the HEF file cannot be opened ({status})."
    if status == "HAILO_TIMEOUT":
        return f"{context}: the Hailo device did not answer in time (HAILO_TIMEOUT); restart the server."
    detail = f"{status}: {error}" if status else f"{type(error).__name__}: {error}"
    return f"{context}: HailoRT failed ({detail})."
