"""Inference backends and the choice between them."""

from __future__ import annotations

import logging

from hailo_face_server.backends.base import BackendChoice, BackendInfo, FaceBackend, Fallback
from hailo_face_server.config import Config
from hailo_face_server.unavailable import BackendUnavailable

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "BackendChoice",
    "BackendInfo",
    "BackendUnavailable",
    "FaceBackend",
    "Fallback",
    "create_backend",
]


def create_backend(config: Config) -> BackendChoice:
    """Load the configured backend; ``auto`` tries the Hailo NPU and falls back to the CPU."""
    from hailo_face_server.backends.cpu import CpuBackend
    from hailo_face_server.backends.hailo import HailoBackend
    from hailo_face_server.runtimes.hailo_errors import device_node_present

    choice = config.face_recognition.backend

    def cpu() -> CpuBackend:
        # The converted descriptor model lives with the data (the app: /data/models).
        return CpuBackend(
            descriptor=config.face_recognition.cpu_descriptor,
            detector=config.face_recognition.cpu_detector,
            model_cache_dir=config.database.db_file.parent / "models",
        )

    if choice == "cpu":
        return BackendChoice(cpu())
    if choice == "hailo":
        return BackendChoice(HailoBackend(config.hailo))
    try:
        return BackendChoice(HailoBackend(config.hailo))
    except BackendUnavailable as err:
        # Without a Hailo device this is the normal case; with one, something needs fixing.
        level = logging.WARNING if device_node_present() or err.code == "device_busy" else logging.INFO
        _LOGGER.log(level, "Hailo backend unavailable, using the CPU backend instead: %s", err.message)
        return BackendChoice(cpu(), Fallback(preferred="hailo", code=err.code, reason=err.message))
