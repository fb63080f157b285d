"""A process-wide byte budget for images being decoded, and handing freed memory back to the system.

A pixel limit alone does not bound memory: ten 40-megapixel images decoded at
once hold gigabytes. Each decode reserves the bytes it will hold at its peak
before it starts, and waits (in arrival order) while others hold the budget.
"""

from __future__ import annotations

import ctypes
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hailo_face_server.errors import ImageTooLarge, ServerBusy

MIB = 1024 * 1024


def _mb(nbytes: int) -> str:
    return f"{nbytes / MIB:.0f} MB"


class DecodeBudget:
    """At most ``max_bytes`` reserved at once, over all threads; reservations are granted first come, first served."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("a decode budget needs at least one byte")
        self.max_bytes = max_bytes
        self._in_use = 0
        self._peak = 0
        self._waiting: deque[object] = deque()
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        """Bytes reserved now."""
        with self._changed:
            return self._in_use

    @property
    def peak(self) -> int:
        """The most bytes ever reserved at once."""
        with self._changed:
            return self._peak

    @contextmanager
    def reserve(self, nbytes: int, timeout: float | None = None) -> Iterator[None]:
        """Hold ``nbytes`` of the budget for the ``with`` block.

        Raises ``ImageTooLarge`` at once if ``nbytes`` exceeds the whole budget, and
        ``ServerBusy`` if the bytes did not become free within ``timeout`` seconds
        (``None``: wait as long as it takes).
        """
        nbytes = max(0, nbytes)
        if nbytes > self.max_bytes:
            raise ImageTooLarge(
                f"Decoding this image needs about {_mb(nbytes)} of memory; the server decodes "
                f"images within {_mb(self.max_bytes)} (performance.max_decode_mb). Send a smaller image.",
                decode_bytes=nbytes,
                max_decode_bytes=self.max_bytes,
            )
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
            try:
                granted = self._changed.wait_for(
                    lambda: self._waiting[0] is ticket and self._in_use + nbytes <= self.max_bytes, timeout
                )
            except BaseException:
                self._leave_queue(ticket)
                raise
            if not granted:
                self._leave_queue(ticket)
                raise ServerBusy(
                    "The server is busy decoding other large images; try again in a few seconds.", retry_after=2
                )
            self._waiting.popleft()
            self._in_use += nbytes
            self._peak = max(self._peak, self._in_use)
            self._changed.notify_all()  # the next in line may fit as well
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= nbytes
                self._changed.notify_all()

    def _leave_queue(self, ticket: object) -> None:
        self._waiting.remove(ticket)
        self._changed.notify_all()


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc; absent on musl, macOS, Windows
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _find_malloc_trim()


def release_freed_memory() -> bool:
    """Ask the C allocator to hand freed memory back to the system; False where it cannot (not glibc).

    After a large decode glibc keeps the freed pages of its heaps (one per thread
    that decoded) for reuse; ``malloc_trim(0)`` returns them, in a few milliseconds.
    """
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True
