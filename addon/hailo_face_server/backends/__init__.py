"""Inference backends and the choice between them."""

from __future__ import annotations

import logging

from hailo_face_server.backends.base import BackendInfo, BackendUnavailable, Detections, FaceBackend

_LOGGER = logging.getLogger(__name__)

__all__ = ["BackendInfo", "BackendUnavailable", "Detections", "FaceBackend", "create_backend"]


def create_backend(name: str) -> FaceBackend:
    """Load the backend called ``name`` (``auto`` picks the best one available)."""
    from hailo_face_server.backends.cpu import CpuBackend

    if name in ("auto", "cpu"):
        return CpuBackend()
    raise BackendUnavailable(f"Unknown backend {name!r}")
