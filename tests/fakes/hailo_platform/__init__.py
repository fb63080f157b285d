"""Fake of HailoRT's ``hailo_platform`` package for tests (see tests/fakes/README.md)."""

from __future__ import annotations

from hailo_platform.pyhailort.pyhailort import (
    LIBRARY_VERSION,
    ConfiguredInferModel,
    Device,
    FormatOrder,
    FormatType,
    HailoRTException,
    HailoSchedulingAlgorithm,
    InferModel,
    VDevice,
)

__version__ = LIBRARY_VERSION

__all__ = [
    "ConfiguredInferModel",
    "Device",
    "FormatOrder",
    "FormatType",
    "HailoRTException",
    "HailoSchedulingAlgorithm",
    "InferModel",
    "VDevice",
]
