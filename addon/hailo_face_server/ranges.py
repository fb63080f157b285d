"""The ranges of the parameters that the configuration, the app's options and the API share, declared once.

``config.py`` and ``addon_options.py`` validate with them, the API's models
(``api/models.py``) bound their fields with them, and so the OpenAPI
description says them too. The app's manifest (``config.yaml``) and the Home
Assistant integration cannot import them: tests hold those to these values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    low: float
    high: float


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int


THRESHOLD = Range(0.0, 1.0)  # a detection score or a naming confidence
MAX_FACES = IntRange(1, 100)  # the largest faces of an image that are recognised
MIN_FACE_SIZE = IntRange(16, 4096)  # px: faces narrower are not looked for
