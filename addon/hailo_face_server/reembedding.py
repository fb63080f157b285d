"""Embedding stored face crops again when the server runs a model they were not taught with.

A user who moves from the CPU to a Hailo device (or back) keeps everyone
they taught: each sample's crop goes through the new model's detection,
alignment and embedding, a few at a time through the inference worker so
that live requests keep their turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hailo_face_server.errors import BackendError, FaceServiceError, ServerBusy
from hailo_face_server.gallery import Gallery
from hailo_face_server.gallery.store import PendingCrop
from hailo_face_server.imaging import decode_image
from hailo_face_server.pipeline import DetectOptions, FacePipeline
from hailo_face_server.status import ReembeddingStatus
from hailo_face_server.worker import InferenceWorker

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
BATCH_SIZE = 8
CROP_MIN_FACE_SIZE = 32
LOG_EVERY_FRACTION = 0.1

Run = Callable[..., Awaitable[Any]]


@dataclass
class ReembeddingProgress:
    model_id: str
    total: int
    done: int = 0
    failed: int = 0
    running: bool = True

    def status(self) -> ReembeddingStatus:
        return ReembeddingStatus(self.model_id, self.total, self.done, self.failed, self.running)


class Reembedder:
    def __init__(
        self,
        pipeline: FacePipeline,
        gallery: Gallery,
        worker: InferenceWorker,
        *,
        in_database: Run,
        in_image_pool: Run,
        detection_threshold: float,
        time_limit: float,
    ) -> None:
        self._pipeline = pipeline
        self._gallery = gallery
        self._worker = worker
        self._in_database = in_database
        self._in_image_pool = in_image_pool
        self._options = DetectOptions(threshold=detection_threshold, min_face_size=CROP_MIN_FACE_SIZE, max_faces=1)
        self._time_limit = time_limit
        self.progress = ReembeddingProgress(model_id=gallery.model_id, total=0)

    async def run(self, pending: list[PendingCrop]) -> None:
        progress = self.progress
        progress.total = len(pending)
        _LOGGER.info(
            "Re-computing the %s embeddings of %d face samples from their stored crops",
            progress.model_id,
            progress.total,
        )
        next_report = LOG_EVERY_FRACTION * progress.total
        try:
            for start in range(0, len(pending), BATCH_SIZE):
                await self._run_batch(pending[start : start + BATCH_SIZE])
                if progress.done + progress.failed >= next_report < progress.total:
                    _LOGGER.info("Re-embedding: %d of %d samples", progress.done + progress.failed, progress.total)
                    next_report += LOG_EVERY_FRACTION * progress.total
        except BackendError as err:
            _LOGGER.error("Re-embedding stopped after %d of %d samples: %s", progress.done, progress.total, err)
            return
        finally:
            progress.running = False
        if progress.failed:
            _LOGGER.warning(
                "Re-embedded %d of %d samples; in %d crops the %s detector found no face. "
                "Those samples stay unused until the person is taught again.",
                progress.done,
                progress.total,
                progress.failed,
                progress.model_id,
            )
        else:
            _LOGGER.info("Re-embedded all %d samples for %s", progress.total, progress.model_id)

    async def _run_batch(self, batch: list[PendingCrop]) -> None:
        images = []
        for crop in batch:
            try:
                images.append((crop, (await self._in_image_pool(decode_image, crop.crop_jpeg, 10**8)).frame))
            except FaceServiceError:
                self.progress.failed += 1
        if not images:
            return
        vectors = await self._infer(lambda: self._pipeline.embed_largest_faces([p for _, p in images], self._options))
        for (crop, _), vector in zip(images, vectors, strict=True):
            if vector is None:
                self.progress.failed += 1
                continue
            await self._in_database(self._gallery.add_embedding, crop, vector)
            self.progress.done += 1

    async def _infer(self, job: Callable[[], T]) -> T:
        """Run through the worker's queue like any request, waiting while it is full."""
        while True:
            try:
                return await self._worker.run(job, self._time_limit)
            except ServerBusy as busy:
                await asyncio.sleep(busy.retry_after)
