"""Turning HailoRT failures into sentences that say what to do.

HailoRT raises its status as an exception class (``HailoRTTimeout``), as
``libhailort failed with error: 76 (HAILO_INVALID_DRIVER_VERSION)``, or, from
a few unwrapped calls, as a bare status number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

STATUS_BY_NUMBER = {
    4: "HAILO_TIMEOUT",
    13: "HAILO_OPEN_FILE_FAILURE",
    26: "HAILO_INVALID_HEF",
    61: "HAILO_NOT_FOUND",
    73: "HAILO_DEVICE_IN_USE",
    74: "HAILO_OUT_OF_PHYSICAL_DEVICES",
    76: "HAILO_INVALID_DRIVER_VERSION",
    82: "HAILO_QUEUE_IS_FULL",
    91: "HAILO_HEF_FILE_CORRUPTED",
    92: "HAILO_HEF_NOT_SUPPORTED",
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


@dataclass(frozen=True)
class HailoProblem:
    """Why the Hailo backend cannot work: a stable code, and a sentence on what to do."""

    code: str
    message: str


def explain(
    error: BaseException, library_version: str, context: str, *, device_seen: bool | None = None
) -> HailoProblem:
    """What failed while ``context`` and what to do about it.

    ``device_seen``: whether a Hailo device was found on the system, which
    tells "held by another program" from "no device" for status 74.
    """
    status = status_of(error)
    driver = driver_version()
    if status == "HAILO_INVALID_DRIVER_VERSION":
        return HailoProblem(
            "driver_mismatch",
            f"{context}: the Hailo kernel driver ({driver or 'version unknown'}) and the HailoRT library "
            f"({library_version}) differ (HAILO_INVALID_DRIVER_VERSION); they must be exactly the same "
            "version. Home Assistant OS ships driver 4.21.0; check yours with "
            "'cat /sys/module/hailo_pci/version'.",
        )
    if status in ("HAILO_OUT_OF_PHYSICAL_DEVICES", "HAILO_DEVICE_IN_USE") and device_seen:
        return HailoProblem(
            "device_busy",
            f"{context}: another program holds the Hailo ({status}). HailoRT lets one process use a Hailo "
            "at a time, and Frigate, for example, keeps it for as long as it runs. Stop the other program "
            "and restart Hailo Face, or keep the backend on 'auto' to recognise faces on the CPU meanwhile; "
            "a host that runs HailoRT's multi-process service can share it (hailo.multi_process_service).",
        )
    if status in ("HAILO_OUT_OF_PHYSICAL_DEVICES", "HAILO_DEVICE_IN_USE"):
        return HailoProblem(
            "no_device",
            f"{context}: no free Hailo device ({status}). Check that "
            f"{' or '.join(DEVICE_NODES)} exists and is passed to this container, and that no other "
            "program (e.g. Frigate) holds it.",
        )
    if status == "HAILO_HEF_NOT_SUPPORTED":
        return HailoProblem(
            "hef_not_supported",
            f"{context}: the HEF was compiled for another HailoRT/Dataflow Compiler version "
            f"(HAILO_HEF_NOT_SUPPORTED); use the Model Zoo release that matches HailoRT {library_version} "
            "(see docs/hailo.md).",
        )
    if status == "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE":
        return HailoProblem(
            "hef_wrong_chip",
            f"{context}: the HEF was compiled for another chip ({status}); use the file from this chip's "
            "Model Zoo folder (see docs/hailo.md).",
        )
    if status in ("HAILO_INVALID_HEF", "HAILO_HEF_FILE_CORRUPTED"):
        return HailoProblem(
            "hef_invalid",
            f"{context}: the file is not a HEF HailoRT {library_version} can read ({status}); it may be "
            "damaged or for another chip or HailoRT version. Delete it and download this chip's file "
            "again (see docs/hailo.md).",
        )
    if status == "HAILO_OPEN_FILE_FAILURE":
        return HailoProblem("hef_unreadable", f"{context}: the HEF file cannot be opened ({status}).")
    if status == "HAILO_TIMEOUT":
        return HailoProblem(
            "timeout", f"{context}: the Hailo device did not answer in time (HAILO_TIMEOUT); restart the server."
        )
    detail = f"{status}: {error}" if status else f"{type(error).__name__}: {error}"
    return HailoProblem("hailort_error", f"{context}: HailoRT failed ({detail}).")
