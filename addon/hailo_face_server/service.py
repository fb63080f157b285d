"""The face service: start-up and shut-down, and the parts the API calls once it is ready.

It composes the parts and holds no operation of its own:

- ``engine``: the inference worker, the image pool, admission and decoding;
- ``images``: detect, embed, recognise and teach (``operations``);
- ``people``: the gallery's people, samples, negatives, export and import;
- ``review``: sightings, unknown-face clusters, labelling and "not this person";
- ``status``: what /health and /v1/info report.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator

import numpy as np

from hailo_face_server import __version__
from hailo_face_server.backends import BackendChoice, FaceBackend, Fallback, create_backend
from hailo_face_server.config import Config
from hailo_face_server.decode_budget import release_freed_memory
from hailo_face_server.engine import Engine, OneThread
from hailo_face_server.errors import NotReady, SightingsOff
from hailo_face_server.frames import Frame
from hailo_face_server.gallery import Gallery
from hailo_face_server.gallery.lifecycle import back_up_database, open_gallery, prepare_database
from hailo_face_server.metrics import Metrics
from hailo_face_server.operations import ImageOperations
from hailo_face_server.people import People
from hailo_face_server.pipeline import FacePipeline, Timings
from hailo_face_server.reembedding import Reembedder
from hailo_face_server.sightings.recorder import SightingRecorder
from hailo_face_server.sightings.review import Review
from hailo_face_server.status import (
    STATUS_DEGRADED,
    STATUS_ERROR,
    STATUS_OK,
    STATUS_STARTING,
    FallbackStatus,
    Health,
    Info,
    Limits,
    QueueStatus,
)
from hailo_face_server.worker import Slot

_LOGGER = logging.getLogger(__name__)


class FaceService:
    def __init__(self, config: Config, backend_factory: Callable[[Config], BackendChoice] = create_backend) -> None:
        self.config = config
        self._backend_factory = backend_factory
        self.metrics = Metrics()
        self.engine = Engine(config, self.metrics)
        self.worker = self.engine.worker
        self._database = OneThread("gallery")
        self._sightings_thread = OneThread("sightings")
        self.status = STATUS_STARTING
        self.error: str | None = None
        self.backend: FaceBackend | None = None
        self.fallback: Fallback | None = None
        self._gallery: Gallery | None = None
        self._pipeline: FacePipeline | None = None
        self._recorder: SightingRecorder | None = None
        self._images: ImageOperations | None = None
        self._people: People | None = None
        self._review: Review | None = None
        self._created = time.monotonic()
        self.startup_seconds: float | None = None
        self.reembedder: Reembedder | None = None
        self._reembedding: asyncio.Task[None] | None = None

    # Lifecycle

    async def start(self) -> None:
        """Load the backend and open the gallery; the service is ready when this returns."""
        loop = asyncio.get_running_loop()
        database = self.config.database
        try:
            database_ready = loop.run_in_executor(None, prepare_database, database)
            choice = await self.worker.run(lambda: self._backend_factory(self.config), None)
            backend = self.backend = choice.backend
            self.fallback = choice.fallback
            self.engine.problem = lambda: backend.problem
            await loop.run_in_executor(None, self.worker.set_concurrency, backend.concurrency)
            back_up = await database_ready
            info = backend.info
            gallery = self._gallery = await self._database.run(open_gallery, database, info)
            if back_up:  # only a database that opened: one that fails never rotates good backups out
                await self._database.run(back_up_database, database)
            pipeline = self._pipeline = FacePipeline(backend)
            if self.config.sightings.enabled:
                self._recorder = await self._sightings_thread.run(
                    functools.partial(SightingRecorder.open, self.config.sightings, info)
                )
                self._recorder.thread = self._sightings_thread
                self._review = Review(self._recorder, gallery, self._database, self._gallery_changed)
            self._people = People(gallery, self._database, database.db_file, self.metrics, self._review)
            self._images = ImageOperations(
                self.config,
                self.engine,
                pipeline,
                people=self._people,
                database=self._database,
                sightings=self._recorder,
            )
            if self.config.performance.warmup_enabled:
                await self.worker.run(functools.partial(self._warm_up, pipeline, self._images), None)
            # A first start converts models (tens of MB, freed): hand that memory back.
            release_freed_memory()
        except Exception as err:
            self.status = STATUS_ERROR
            self.error = str(err) or type(err).__name__
            raise
        self.startup_seconds = time.monotonic() - self._created
        await self._people.refresh_counts()
        if self._recorder is not None:
            await self._recorder.start_purging()
        self.status = STATUS_OK
        stats = self._people.stats()
        _LOGGER.info(
            "Ready in %.2f s: backend %s (%s), %d identities with %d face samples",
            self.startup_seconds,
            info.name,
            info.device,
            stats.identities,
            stats.faces,
        )
        if stats.faces_pending:
            self.start_reembedding()

    async def _gallery_changed(self) -> None:
        if self._people is not None:
            await self._people.refresh_counts()

    def start_reembedding(self) -> None:
        """Embed the samples that have no usable embedding of the running model, in the background."""
        if self.reembedding_running or self._pipeline is None or self._gallery is None:
            return
        self.reembedder = Reembedder(
            self._pipeline,
            self._gallery,
            self.worker,
            in_database=self._database.run,
            in_image_pool=self.engine.in_images,
            detection_threshold=self.config.face_recognition.detection_threshold,
            time_limit=self.config.performance.request_timeout,
        )
        gallery = self._gallery
        reembedder = self.reembedder

        async def run() -> None:
            pending = await self._database.run(gallery.pending_crops)
            await reembedder.run(pending)

        self._reembedding = asyncio.create_task(run(), name="hailo-face-reembedding")

    @property
    def reembedding_running(self) -> bool:
        return self._reembedding is not None and not self._reembedding.done()

    @staticmethod
    def _warm_up(pipeline: FacePipeline, images: ImageOperations) -> None:
        blank = Frame.of(np.full((480, 640, 3), 127, np.uint8))
        pipeline.detect(blank, images.detect_options(), Timings())
        pipeline.backend.embed(np.zeros((1, *(pipeline.backend.aligner.chip_size,) * 2, 3), np.uint8))

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._reembedding is not None:
            self._reembedding.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._reembedding
        if self._recorder is not None:
            await self._recorder.stop_purging()
        await loop.run_in_executor(None, self.worker.shutdown)
        if self.backend is not None:
            self.backend.close()
        if self._gallery is not None:
            await self._database.run(self._gallery.close)
        if self._recorder is not None:
            await self._sightings_thread.run(self._recorder.close)
        self._database.shutdown()
        self._sightings_thread.shutdown()
        await self.engine.shutdown()

    # The parts, once ready

    @property
    def ready(self) -> bool:
        return self.status == STATUS_OK

    @property
    def healthy(self) -> bool:
        return self.ready and not (self.backend is not None and self.backend.problem)

    def _require_ready(self) -> None:
        if not self.ready:
            if self.status == STATUS_ERROR:
                raise NotReady(f"The server failed to start: {self.error}")
            raise NotReady("The server is still starting; try again in a few seconds.")

    @property
    def images(self) -> ImageOperations:
        self._require_ready()
        assert self._images is not None
        return self._images

    @property
    def people(self) -> People:
        self._require_ready()
        assert self._people is not None
        return self._people

    @property
    def review(self) -> Review:
        """Sightings and their review; SightingsOff when the server keeps none."""
        self._require_ready()
        if self._review is None:
            raise SightingsOff("This server keeps no sightings (sightings.enabled is off).")
        return self._review

    @contextlib.contextmanager
    def admitted(self) -> Iterator[Slot]:
        """A queue place for an image request whose body was read; ServerBusy at once when full."""
        self._require_ready()
        with self.engine.admitted() as slot:
            yield slot

    # Descriptions

    def health(self) -> Health:
        backend, people = self.backend, self._people
        info = backend.info if backend is not None else None
        fallback = self.fallback
        stats = people.stats() if self.ready and people is not None else None
        recorder = self._recorder if self.ready else None
        return Health(
            status=STATUS_DEGRADED if self.ready and not self.healthy else self.status,
            server_id=self._gallery.server_id if self._gallery is not None else None,
            version=__version__,
            uptime_s=round(time.monotonic() - self._created, 1),
            queue=QueueStatus(self.worker.depth, self.worker.max_queue_size),
            error=self.error,
            backend=info.name if info else None,
            device=info.device if info else None,
            models=info.models if info else None,
            model_id=info.model_id if info else None,
            backend_details=(info.extra or None) if info else None,
            problem=(backend.problem or None) if backend is not None else None,
            fallback=FallbackStatus(fallback.preferred, fallback.code, fallback.reason) if fallback else None,
            identities=stats.identities if stats else None,
            faces=stats.faces if stats else None,
            faces_pending=stats.faces_pending if stats else None,
            index_samples=self._gallery.index.sample_count if stats and self._gallery else None,
            startup_s=round(self.startup_seconds or 0.0, 2) if stats else None,
            reembedding=self.reembedder.progress.status() if stats and self.reembedder else None,
            sightings=recorder.status() if recorder is not None else None,
        )

    def info(self) -> Info:
        self._require_ready()
        assert self.backend is not None
        assert self._gallery is not None
        backend = self.backend.info
        face_config = self.config.face_recognition
        server = self.config.server
        return Info(
            server_id=self._gallery.server_id,
            version=__version__,
            backend=backend.name,
            device=backend.device,
            models=backend.models,
            model_id=backend.model_id,
            embedding_dim=backend.embedding_dim,
            landmarks=backend.landmark_scheme,
            recognition_threshold=face_config.recognition_threshold,
            recognition_threshold_similarity=round(
                backend.calibration.similarity_at(face_config.recognition_threshold), 4
            ),
            detection_threshold=face_config.detection_threshold,
            max_faces=face_config.max_faces,
            min_face_size=face_config.min_face_size,
            limits=Limits(
                max_body_mb=server.max_body_mb,
                max_image_megapixels=server.max_image_megapixels,
                max_queue_size=self.config.performance.max_queue_size,
                request_timeout_s=self.config.performance.request_timeout,
            ),
            sightings=self._recorder is not None,
        )
