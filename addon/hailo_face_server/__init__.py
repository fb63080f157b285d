"""Hailo Face inference server: face detection, embedding and a gallery of identities."""

from __future__ import annotations

__version__ = "0.1.0"
