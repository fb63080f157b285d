"""The one thread that owns the backend, fed by a bounded queue."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from hailo_face_server.errors import RequestTimeout, ServerBusy

T = TypeVar("T")

_INITIAL_JOB_SECONDS = 0.2
_SMOOTHING = 0.2
_MAX_RETRY_AFTER = 60


class _Skipped(Exception):
    """The job was given up before it started."""


class _Job(Generic[T]):
    def __init__(self, worker: InferenceWorker, fn: Callable[[], T]) -> None:
        self._worker = worker
        self._fn = fn
        self._lock = threading.Lock()
        self._abandoned = False

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True

    def __call__(self) -> T:
        with self._lock:
            if self._abandoned:
                raise _Skipped
        start = time.perf_counter()
        try:
            return self._fn()
        finally:
            self._worker._record(time.perf_counter() - start)


class Slot:
    """A place in the queue, held from a request's admission until its job is done."""

    def __init__(self, worker: InferenceWorker) -> None:
        self._worker = worker
        self._held = True
        self.submitted = False

    def release(self) -> None:
        if self._held:
            self._held = False
            self._worker._pending -= 1

    def release_unless_submitted(self) -> None:
        """For a request that ends before (or without) handing its job over: a submitted job releases it."""
        if not self.submitted:
            self.release()


class InferenceWorker:
    """Runs backend jobs (one at a time unless the backend allows more); refuses work beyond ``max_queue_size``.

    ``max_queue_size`` counts the requests admitted: those decoding their
    image, waiting for the model, or running.  A request is admitted once its
    body has arrived (a slow client holds no place); one past the limit is
    refused at once, before any work is spent on it.
    """

    def __init__(self, max_queue_size: int) -> None:
        self.max_queue_size = max_queue_size
        self.concurrency = 1
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._pending = 0
        self._job_seconds = _INITIAL_JOB_SECONDS
        self.completed = 0
        self.rejected = 0
        self.timed_out = 0

    def set_concurrency(self, threads: int) -> None:
        """Run up to ``threads`` jobs at once (for a backend that allows it); call while idle."""
        if threads != self.concurrency:
            previous = self._executor
            self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inference")
            self.concurrency = threads
            previous.shutdown(wait=True)

    @property
    def depth(self) -> int:
        return self._pending

    def retry_after(self) -> int:
        wait = self._job_seconds * max(self._pending, 1) / self.concurrency
        return max(1, min(_MAX_RETRY_AFTER, math.ceil(wait)))

    def _record(self, seconds: float) -> None:
        self._job_seconds += _SMOOTHING * (seconds - self._job_seconds)

    def admit(self) -> Slot:
        """A place in the queue, or ServerBusy at once when there is none."""
        if self._pending >= self.max_queue_size:
            self.rejected += 1
            raise ServerBusy(
                f"The server is busy: {self._pending} requests are queued (limit "
                f"{self.max_queue_size}). Try again shortly.",
                retry_after=self.retry_after(),
            )
        self._pending += 1
        return Slot(self)

    async def run(self, fn: Callable[[], T], time_limit: float | None, slot: Slot | None = None) -> T:
        """Run ``fn`` on a worker thread, waiting at most ``time_limit`` seconds in all.

        The slot (one is taken here if none is given) is given back when the
        job is done, also when the caller stopped waiting for it.
        """
        held = slot if slot is not None else self.admit()
        held.submitted = True
        job: _Job[T] = _Job(self, fn)
        future = asyncio.wrap_future(self._executor.submit(job))

        def finished(done: asyncio.Future[T]) -> None:
            held.release()
            if not done.cancelled() and done.exception() is None:
                self.completed += 1

        future.add_done_callback(finished)
        try:
            return await asyncio.wait_for(asyncio.shield(future), time_limit)
        except TimeoutError:
            job.abandon()
            self.timed_out += 1
            raise RequestTimeout(
                f"The request took longer than {time_limit} s and was given up.",
                retry_after=self.retry_after(),
            ) from None
        except asyncio.CancelledError:
            job.abandon()
            raise

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
