"""Where the work runs: the inference worker, the image pool, admission and the decode budget.

Three kinds of threads do the work: the inference worker (the backend's only
user), a small pool for decoding and encoding images, and one thread per
SQLite file (``OneThread``).  Requests are admitted here, before they take a
queue place, and every refusal is counted in the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from hailo_face_server.config import Config
from hailo_face_server.decode_budget import DecodeBudget
from hailo_face_server.errors import BackendError, BackendTimeout, ServerBusy
from hailo_face_server.imaging import DecodedImage, decode_image
from hailo_face_server.metrics import Metrics
from hailo_face_server.pipeline import Timings
from hailo_face_server.worker import InferenceWorker, Slot

T = TypeVar("T")


class OneThread:
    """One thread that owns a resource (a SQLite connection): every call on it runs there, in order."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn`` from any thread (not only the event loop's); it runs in order with the rest."""
        return self._executor.submit(fn, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


class Engine:
    def __init__(self, config: Config, metrics: Metrics) -> None:
        performance = config.performance
        self.metrics = metrics
        self.worker = InferenceWorker(performance.max_queue_size)
        metrics.track_queue(lambda: self.worker.depth, performance.max_queue_size)
        self._images = ThreadPoolExecutor(performance.worker_threads, thread_name_prefix="images")
        # Memory that the images being decoded at once may hold (performance.max_decode_mb).
        self._decode_budget = DecodeBudget(performance.max_decode_mb * 1024 * 1024)
        self._max_pixels = config.server.max_image_pixels
        self._timeout = performance.request_timeout
        # What keeps the backend from answering (None when nothing): set once the backend is loaded.
        self.problem: Callable[[], str | None] = lambda: None

    @contextlib.contextmanager
    def admitted(self) -> Iterator[Slot]:
        """A queue place for an image request whose body was read; ServerBusy at once when full."""
        try:
            slot = self.worker.admit()
        except ServerBusy as err:
            self.metrics.rejected.labels(reason=err.code).inc()
            raise
        try:
            yield slot
        finally:
            slot.release_unless_submitted()

    async def in_images(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in the image pool (decoding, encoding crops: work that releases the GIL)."""
        return await asyncio.get_running_loop().run_in_executor(self._images, fn, *args)

    async def decode(self, data: bytes, timings: Timings) -> DecodedImage:
        with timings.measure("decode"):
            try:
                return await self.in_images(
                    functools.partial(
                        decode_image, data, self._max_pixels, budget=self._decode_budget, budget_wait=self._timeout
                    )
                )
            except ServerBusy as err:
                self.metrics.rejected.labels(reason=err.code).inc()
                raise

    async def infer(self, job: Callable[[], T], timings: Timings, slot: Slot | None = None) -> T:
        """Run ``job`` on the inference worker (the backend's only user), timing its wait in the queue."""
        problem = self.problem()
        if problem:
            raise BackendError(problem)
        submitted = time.perf_counter()

        def timed() -> T:
            timings.stages_ms["queue"] = round((time.perf_counter() - submitted) * 1000, 2)
            return job()

        try:
            return await self.worker.run(timed, self._timeout, slot)
        except ServerBusy as err:
            self.metrics.rejected.labels(reason=err.code).inc()
            raise
        except BackendError as err:
            kind = "timeout" if isinstance(err, BackendTimeout) else "failure"
            self.metrics.backend_errors.labels(kind=kind).inc()
            raise

    def finish(self, timings: Timings) -> None:
        """Close a request's timings and record them."""
        timings.stages_ms["total"] = round((time.perf_counter() - timings.started) * 1000, 2)
        self.metrics.observe_stages(timings.stages_ms)

    async def shutdown(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.worker.shutdown)
        self._images.shutdown(wait=True)
