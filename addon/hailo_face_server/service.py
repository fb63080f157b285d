"""The face service: start-up, and every operation the API offers, without HTTP.

Three kinds of threads do the work: the inference worker (the backend's only
user), a small pool for decoding and encoding images, and one thread that owns
the SQLite connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from hailo_face_server import __version__
from hailo_face_server.backends import BackendChoice, FaceBackend, Fallback, create_backend
from hailo_face_server.config import Config
from hailo_face_server.decode_budget import DecodeBudget, release_freed_memory
from hailo_face_server.errors import BackendError, BackendTimeout, NotReady, ServerBusy
from hailo_face_server.faces import Detections
from hailo_face_server.frames import Frame
from hailo_face_server.gallery import Gallery
from hailo_face_server.gallery.export import copy_database
from hailo_face_server.gallery.gallery import AddedFace, GalleryStats, IdentityDetails
from hailo_face_server.gallery.limits import GalleryLimits
from hailo_face_server.gallery.maintenance import (
    backup_database,
    integrity_problems,
    restore_latest_backup,
    set_aside,
)
from hailo_face_server.gallery.names import normalize_name
from hailo_face_server.gallery.store import IdentityRecord, ImportSummary, NewFace
from hailo_face_server.imaging import DecodedImage, decode_image, face_crop_jpeg
from hailo_face_server.matching import Match
from hailo_face_server.metrics import Metrics
from hailo_face_server.pipeline import (
    DetectOptions,
    FaceChooser,
    FacePipeline,
    Timings,
    face_in_region,
    options_for_region,
    single_face,
)
from hailo_face_server.reembedding import Reembedder
from hailo_face_server.worker import InferenceWorker, Slot

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

STATUS_STARTING = "starting"
STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_DEGRADED = "degraded"


@dataclass(frozen=True)
class ImageResult:
    width: int
    height: int
    detections: Detections
    timings: Timings
    embeddings: np.ndarray | None = None
    matches: list[Match] | None = None


@dataclass(frozen=True)
class EnrolResult:
    added: AddedFace
    face: ImageResult


class FaceService:
    def __init__(self, config: Config, backend_factory: Callable[[Config], BackendChoice] = create_backend) -> None:
        self.config = config
        self._backend_factory = backend_factory
        self.worker = InferenceWorker(config.performance.max_queue_size)
        self.metrics = Metrics()
        self.metrics.track_queue(lambda: self.worker.depth, config.performance.max_queue_size)
        self._images = ThreadPoolExecutor(config.performance.worker_threads, thread_name_prefix="images")
        # Memory that the images being decoded at once may hold (performance.max_decode_mb).
        self._decode_budget = DecodeBudget(config.performance.max_decode_mb * 1024 * 1024)
        self._database = ThreadPoolExecutor(1, thread_name_prefix="gallery")
        self.status = STATUS_STARTING
        self.error: str | None = None
        self.backend: FaceBackend | None = None
        self.fallback: Fallback | None = None
        self._pipeline: FacePipeline | None = None
        self._gallery: Gallery | None = None
        self._created = time.monotonic()
        self.startup_seconds: float | None = None
        self.reembedder: Reembedder | None = None
        self._reembedding: asyncio.Task[None] | None = None
        # Counts from the database, refreshed after every change: /health reads these
        # (and the in-memory index) and never waits in the database thread's queue.
        self._counts = GalleryStats(identities=0, faces=0, faces_pending=0)

    # Lifecycle

    async def start(self) -> None:
        """Load the backend and open the gallery; the service is ready when this returns."""
        loop = asyncio.get_running_loop()
        try:
            database_ready = loop.run_in_executor(self._database, self._prepare_database)
            choice = await self.worker.run(lambda: self._backend_factory(self.config), None)
            backend = self.backend = choice.backend
            self.fallback = choice.fallback
            await loop.run_in_executor(None, self.worker.set_concurrency, backend.concurrency)
            back_up = await database_ready
            info = backend.info
            self._gallery = await loop.run_in_executor(
                self._database,
                functools.partial(
                    Gallery.open,
                    self.config.database.db_file,
                    info.model_id,
                    info.embedding_dim,
                    info.calibration,
                    limits=self._gallery_limits(),
                ),
            )
            if back_up:  # only a database that opened: one that fails never rotates good backups out
                await loop.run_in_executor(self._database, self._back_up_database)
            self._pipeline = FacePipeline(backend)
            if self.config.performance.warmup_enabled:
                await self.worker.run(self._warm_up, None)
            # A first start converts models (tens of MB, freed): hand that memory back.
            release_freed_memory()
        except Exception as err:
            self.status = STATUS_ERROR
            self.error = str(err) or type(err).__name__
            raise
        self.startup_seconds = time.monotonic() - self._created
        await self._refresh_counts()
        self.status = STATUS_OK
        stats = self.gallery_stats()
        _LOGGER.info(
            "Ready in %.2f s: backend %s (%s), %d identities with %d face samples",
            self.startup_seconds,
            info.name,
            info.device,
            stats.identities,
            stats.faces,
        )
        if stats.faces_pending:
            self._start_reembedding()

    def _start_reembedding(self) -> None:
        assert self._pipeline is not None
        assert self._gallery is not None
        self.reembedder = Reembedder(
            self._pipeline,
            self._gallery,
            self.worker,
            in_database=self._in_database,
            in_image_pool=self._in_image_pool,
            detection_threshold=self.config.face_recognition.detection_threshold,
            time_limit=self.config.performance.request_timeout,
        )
        gallery = self._gallery
        reembedder = self.reembedder

        async def run() -> None:
            pending = await self._in_database(gallery.pending_crops)
            await reembedder.run(pending)

        self._reembedding = asyncio.create_task(run(), name="hailo-face-reembedding")

    def _gallery_limits(self) -> GalleryLimits:
        database = self.config.database
        return GalleryLimits(
            max_samples_per_person=database.max_samples_per_person, max_gallery_mb=database.max_gallery_mb
        )

    def _prepare_database(self) -> bool:
        """Check the database; a damaged one is set aside and the newest good backup restored.

        True when there is a database to back up: start() does so once it has opened.
        """
        database = self.config.database
        if not database.db_file.exists():
            return False
        problems = integrity_problems(database.db_file)
        if problems:
            aside = set_aside(database.db_file)
            restored = restore_latest_backup(database.db_file, database.backup_path)
            _LOGGER.error(
                "Database integrity check FAILED for %s (%s). Moved it to %s; %s",
                database.db_file,
                "; ".join(problems[:3]),
                aside,
                f"restored the backup {restored}." if restored else "no good backup: starting with an empty gallery.",
            )
            if restored is None:
                return False
        return database.backup_enabled

    def _back_up_database(self) -> None:
        database = self.config.database
        target = backup_database(database.db_file, database.backup_path, database.backup_keep)
        _LOGGER.info("Backed up the gallery to %s", target)

    def _warm_up(self) -> None:
        assert self._pipeline is not None
        blank = Frame.of(np.full((480, 640, 3), 127, np.uint8))
        self._pipeline.detect(blank, self._detect_options(None, None, None), Timings())
        self._pipeline.backend.embed(np.zeros((1, *(self._pipeline.backend.aligner.chip_size,) * 2, 3), np.uint8))

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._reembedding is not None:
            self._reembedding.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._reembedding
        await loop.run_in_executor(None, self.worker.shutdown)
        if self.backend is not None:
            self.backend.close()
        if self._gallery is not None:
            await loop.run_in_executor(self._database, self._gallery.close)
        self._database.shutdown(wait=True)
        self._images.shutdown(wait=True)

    # Plumbing

    @property
    def ready(self) -> bool:
        return self.status == STATUS_OK

    @property
    def healthy(self) -> bool:
        return self.ready and not (self.backend is not None and self.backend.problem)

    @contextlib.contextmanager
    def admitted(self) -> Iterator[Slot]:
        """A queue place for an image request whose body was read; ServerBusy at once when full."""
        self._require_ready()
        try:
            slot = self.worker.admit()
        except ServerBusy as err:
            self.metrics.rejected.labels(reason=err.code).inc()
            raise
        try:
            yield slot
        finally:
            slot.release_unless_submitted()

    def _require_loaded(self) -> tuple[FacePipeline, Gallery]:
        if self._pipeline is None or self._gallery is None:
            raise NotReady("The server is still starting; try again in a few seconds.")
        return self._pipeline, self._gallery

    def _require_ready(self) -> tuple[FacePipeline, Gallery]:
        if self._pipeline is None or self._gallery is None or not self.ready:
            if self.status == STATUS_ERROR:
                raise NotReady(f"The server failed to start: {self.error}")
            raise NotReady("The server is still starting; try again in a few seconds.")
        return self._pipeline, self._gallery

    async def _in_database(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._database, fn, *args)

    async def _in_image_pool(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._images, fn, *args)

    async def _decode(self, data: bytes, timings: Timings) -> DecodedImage:
        max_pixels = self.config.server.max_image_pixels
        budget, wait = self._decode_budget, self.config.performance.request_timeout
        with timings.measure("decode"):
            try:
                return await self._in_image_pool(
                    functools.partial(decode_image, data, max_pixels, budget=budget, budget_wait=wait)
                )
            except ServerBusy as err:
                self.metrics.rejected.labels(reason=err.code).inc()
                raise

    async def _infer(self, job: Callable[[], T], timings: Timings, slot: Slot | None = None) -> T:
        if self.backend is not None and self.backend.problem:
            raise BackendError(self.backend.problem)
        submitted = time.perf_counter()

        def timed() -> T:
            timings.stages_ms["queue"] = round((time.perf_counter() - submitted) * 1000, 2)
            return job()

        try:
            return await self.worker.run(timed, self.config.performance.request_timeout, slot)
        except ServerBusy as err:
            self.metrics.rejected.labels(reason=err.code).inc()
            raise
        except BackendError as err:
            kind = "timeout" if isinstance(err, BackendTimeout) else "failure"
            self.metrics.backend_errors.labels(kind=kind).inc()
            raise

    def _detect_options(
        self, threshold: float | None, min_face_size: int | None, max_faces: int | None
    ) -> DetectOptions:
        face_config = self.config.face_recognition
        return DetectOptions(
            threshold=face_config.detection_threshold if threshold is None else threshold,
            min_face_size=face_config.min_face_size if min_face_size is None else min_face_size,
            max_faces=face_config.max_faces if max_faces is None else max_faces,
        )

    # Operations on images

    async def detect(
        self,
        data: bytes,
        *,
        slot: Slot | None = None,
        threshold: float | None = None,
        min_face_size: int | None = None,
        max_faces: int | None = None,
    ) -> ImageResult:
        pipeline, _ = self._require_ready()
        timings = Timings()
        image = await self._decode(data, timings)
        options = self._detect_options(threshold, min_face_size, max_faces)
        detections = await self._infer(lambda: pipeline.detect(image.frame, options, timings), timings, slot)
        return self._finish(image, detections, timings)

    async def embed(
        self,
        data: bytes,
        *,
        slot: Slot | None = None,
        bbox: np.ndarray | None = None,
        min_face_size: int | None = None,
        max_faces: int | None = None,
    ) -> ImageResult:
        pipeline, _ = self._require_ready()
        timings = Timings()
        image = await self._decode(data, timings)
        options = self._detect_options(None, min_face_size, max_faces)
        choose: FaceChooser | None = None
        if bbox is not None:
            options, choose = options_for_region(options, bbox), face_in_region(bbox)
        analysis = await self._infer(
            lambda: pipeline.analyze(image.frame, options, timings, choose=choose), timings, slot
        )
        return self._finish(image, analysis.detections, timings, embeddings=analysis.embeddings)

    async def recognize(
        self,
        data: bytes,
        *,
        slot: Slot | None = None,
        threshold: float | None = None,
        min_face_size: int | None = None,
        max_faces: int | None = None,
    ) -> ImageResult:
        pipeline, gallery = self._require_ready()
        timings = Timings()
        image = await self._decode(data, timings)
        options = self._detect_options(None, min_face_size, max_faces)
        recognition_threshold = self.config.face_recognition.recognition_threshold if threshold is None else threshold

        def job() -> tuple[Detections, list[Match]]:
            analysis = pipeline.analyze(image.frame, options, timings)
            assert analysis.embeddings is not None
            with timings.measure("search"):
                matches = gallery.match(analysis.embeddings, recognition_threshold)
            return analysis.detections, matches

        detections, matches = await self._infer(job, timings, slot)
        return self._finish(image, detections, timings, matches=matches)

    async def add_face(
        self,
        name: str,
        data: bytes,
        *,
        slot: Slot | None = None,
        bbox: np.ndarray | None = None,
        pick_largest: bool = False,
        min_face_size: int | None = None,
    ) -> EnrolResult:
        pipeline, gallery = self._require_ready()
        clean_name = normalize_name(name)
        timings = Timings()
        image = await self._decode(data, timings)
        options = self._detect_options(None, min_face_size, None)
        choose = single_face(pick_largest)
        if bbox is not None:
            options, choose = options_for_region(options, bbox), face_in_region(bbox)
        analysis = await self._infer(
            lambda: pipeline.analyze(image.frame, options, timings, choose=choose), timings, slot
        )
        assert analysis.embeddings is not None
        detections = analysis.detections
        crop = await self._in_image_pool(face_crop_jpeg, image.frame, detections.boxes[0])
        info = pipeline.backend.info
        new_face = NewFace(
            model_id=info.model_id,
            embedding=analysis.embeddings[0],
            crop_jpeg=crop,
            landmarks=detections.landmarks[0].tolist(),
            bbox=detections.boxes[0].tolist(),
            detection_score=float(detections.scores[0]),
        )
        with timings.measure("store"):
            added = await self._in_database(gallery.add, clean_name, new_face)
        await self._refresh_counts()
        _LOGGER.info("Taught a face of %s (face %d)", added.identity.name, added.face_id)
        return EnrolResult(added, self._finish(image, detections, timings))

    def _finish(
        self,
        image: DecodedImage,
        detections: Detections,
        timings: Timings,
        *,
        embeddings: np.ndarray | None = None,
        matches: list[Match] | None = None,
    ) -> ImageResult:
        timings.stages_ms["total"] = round((time.perf_counter() - timings.started) * 1000, 2)
        self.metrics.observe_stages(timings.stages_ms)
        return ImageResult(image.width, image.height, detections, timings, embeddings, matches)

    # Operations on the gallery

    async def identities(self) -> list[IdentityDetails]:
        _, gallery = self._require_ready()
        return await self._in_database(gallery.identities)

    async def delete_identity(self, name: str) -> IdentityRecord:
        _, gallery = self._require_ready()
        record = await self._in_database(gallery.delete_identity, name)
        await self._refresh_counts()
        _LOGGER.info("Forgot %s and %d face samples", record.name, record.face_count)
        return record

    async def delete_face(self, name: str, face_id: int) -> IdentityRecord:
        _, gallery = self._require_ready()
        record = await self._in_database(gallery.delete_face, name, face_id)
        await self._refresh_counts()
        _LOGGER.info("Removed face %d of %s", face_id, record.name)
        return record

    async def rename(self, name: str, new_name: str) -> IdentityRecord:
        _, gallery = self._require_ready()
        record = await self._in_database(gallery.rename, name, new_name)
        _LOGGER.info("Renamed %s to %s", name, record.name)
        return record

    async def face_image(self, name: str, face_id: int) -> bytes:
        _, gallery = self._require_ready()
        return await self._in_database(gallery.crop, name, face_id)

    async def export_gallery(self, target: Path) -> None:
        """A copy of the gallery file, made on its own connection (not in the database thread's queue)."""
        self._require_ready()
        await asyncio.get_running_loop().run_in_executor(None, copy_database, self.config.database.db_file, target)
        _LOGGER.info("Exported the gallery")

    async def import_gallery(self, source: Path, *, replace: bool) -> ImportSummary:
        _, gallery = self._require_ready()
        # Reading and checking the whole file happens off the database thread (it touches only
        # the file), so /health, list and teaching keep answering; the write is one transaction.
        validated = await asyncio.get_running_loop().run_in_executor(None, gallery.validate_import, source)
        summary = await self._in_database(functools.partial(gallery.import_validated, validated, replace=replace))
        _LOGGER.info(
            "Imported a gallery (%s): %d new people, %d face samples, %d embeddings of unknown models dropped "
            "(the file checked in %.1f s)",
            "replacing the old one" if replace else "merged",
            summary.identities_created,
            summary.faces,
            summary.embeddings_dropped,
            validated.seconds,
        )
        await self._refresh_counts()
        if self.gallery_stats().faces_pending and not self.reembedding_running:
            self._start_reembedding()
        return summary

    @property
    def reembedding_running(self) -> bool:
        return self._reembedding is not None and not self._reembedding.done()

    async def _refresh_counts(self) -> None:
        _, gallery = self._require_loaded()
        self._counts = await self._in_database(gallery.stats)

    def gallery_stats(self) -> GalleryStats:
        """The gallery's counts without a database query: searchable samples are the index's."""
        _, gallery = self._require_loaded()
        searchable = gallery.index.sample_count
        stats = GalleryStats(
            identities=self._counts.identities,
            faces=searchable,
            faces_pending=max(0, self._counts.faces + self._counts.faces_pending - searchable),
        )
        self.metrics.identities.set(stats.identities)
        self.metrics.faces.set(stats.faces)
        self.metrics.faces_pending.set(stats.faces_pending)
        return stats

    # Descriptions

    async def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "status": STATUS_DEGRADED if self.ready and not self.healthy else self.status,
            "server_id": self._gallery.server_id if self._gallery is not None else None,
            "version": __version__,
            "uptime_s": round(time.monotonic() - self._created, 1),
            "queue": {"depth": self.worker.depth, "max": self.worker.max_queue_size},
        }
        if self.error:
            report["error"] = self.error
        if self.backend is not None:
            info = self.backend.info
            report.update(backend=info.name, device=info.device, models=info.models, model_id=info.model_id)
            if info.extra:
                report["backend_details"] = info.extra
            if self.backend.problem:
                report["problem"] = self.backend.problem
        if self.fallback is not None:
            report["fallback"] = {
                "from": self.fallback.preferred,
                "code": self.fallback.code,
                "reason": self.fallback.reason,
            }
        if self.ready:
            stats = self.gallery_stats()
            report.update(
                identities=stats.identities,
                faces=stats.faces,
                faces_pending=stats.faces_pending,
                index_samples=self._gallery.index.sample_count if self._gallery else 0,
                startup_s=round(self.startup_seconds or 0.0, 2),
            )
            if self.reembedder is not None:
                report["reembedding"] = self.reembedder.progress.describe()
        return report

    def info(self) -> dict[str, Any]:
        pipeline, gallery = self._require_ready()
        backend = pipeline.backend.info
        face_config = self.config.face_recognition
        return {
            "server_id": gallery.server_id,
            "version": __version__,
            "backend": backend.name,
            "device": backend.device,
            "models": backend.models,
            "model_id": backend.model_id,
            "embedding_dim": backend.embedding_dim,
            "landmarks": backend.landmark_scheme,
            "recognition_threshold": face_config.recognition_threshold,
            "recognition_threshold_similarity": round(
                backend.calibration.similarity_at(face_config.recognition_threshold), 4
            ),
            "detection_threshold": face_config.detection_threshold,
            "max_faces": face_config.max_faces,
            "min_face_size": face_config.min_face_size,
            "limits": {
                "max_body_mb": self.config.server.max_body_mb,
                "max_image_megapixels": self.config.server.max_image_megapixels,
                "max_queue_size": self.config.performance.max_queue_size,
                "request_timeout_s": self.config.performance.request_timeout,
            },
        }
