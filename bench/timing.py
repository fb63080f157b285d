"""Medians of repeated timings, in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_ms(samples: list[float], digits: int = 1) -> float:
    """The median of timings in seconds, in milliseconds."""
    return round(statistics.median(samples) * 1000, digits)


def timed_median_ms(fn: Callable[[], Any], repeats: int, digits: int = 1) -> float:
    """Call ``fn`` ``repeats`` times; the median time of a call, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median_ms(times, digits)
