"""The operations on an image: detect, embed, recognise, teach.  Decode, infer, and keep the result."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from hailo_face_server.config import Config
from hailo_face_server.engine import Engine, OneThread
from hailo_face_server.faces import Detections
from hailo_face_server.gallery.gallery import AddedFace
from hailo_face_server.gallery.names import normalize_name
from hailo_face_server.gallery.store import NewFace
from hailo_face_server.imaging import DecodedImage, face_crop_jpeg
from hailo_face_server.matching import Match
from hailo_face_server.people import People
from hailo_face_server.pipeline import (
    DetectOptions,
    FaceChooser,
    FacePipeline,
    Timings,
    face_in_region,
    options_for_region,
    single_face,
)
from hailo_face_server.sightings.recorder import SeenImage, SightingRecorder
from hailo_face_server.worker import Slot

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageResult:
    width: int
    height: int
    detections: Detections
    timings: Timings
    embeddings: np.ndarray | None = None
    matches: list[Match] | None = None
    sighting_ids: list[int] | None = None  # of each face, when the image came from a source that is recorded


@dataclass(frozen=True)
class EnrolResult:
    added: AddedFace
    face: ImageResult


class ImageOperations:
    def __init__(
        self,
        config: Config,
        engine: Engine,
        pipeline: FacePipeline,
        *,
        people: People,
        database: OneThread,
        sightings: SightingRecorder | None,
    ) -> None:
        self._config = config
        self._engine = engine
        self._pipeline = pipeline
        self._people = people
        self._gallery = people.gallery
        self._database = database
        self._sightings = sightings

    def detect_options(
        self, threshold: float | None = None, min_face_size: int | None = None, max_faces: int | None = None
    ) -> DetectOptions:
        face_config = self._config.face_recognition
        return DetectOptions(
            threshold=face_config.detection_threshold if threshold is None else threshold,
            min_face_size=face_config.min_face_size if min_face_size is None else min_face_size,
            max_faces=face_config.max_faces if max_faces is None else max_faces,
        )

    async def detect(
        self,
        data: bytes,
        *,
        threshold: float | None = None,
        min_face_size: int | None = None,
        max_faces: int | None = None,
        slot: Slot | None = None,
    ) -> ImageResult:
        timings = Timings()
        image = await self._engine.decode(data, timings)
        options = self.detect_options(threshold, min_face_size, max_faces)
        pipeline = self._pipeline
        detections = await self._engine.infer(lambda: pipeline.detect(image.frame, options, timings), timings, slot)
        return self._finish(image, detections, timings)

    async def embed(
        self,
        data: bytes,
        *,
        bbox: np.ndarray | None = None,
        min_face_size: int | None = None,
        max_faces: int | None = None,
        slot: Slot | None = None,
    ) -> ImageResult:
        timings = Timings()
        image = await self._engine.decode(data, timings)
        options = self.detect_options(None, min_face_size, max_faces)
        choose: FaceChooser | None = None
        if bbox is not None:
            options, choose = options_for_region(options, bbox), face_in_region(bbox)
        pipeline = self._pipeline
        analysis = await self._engine.infer(
            lambda: pipeline.analyze(image.frame, options, timings, choose=choose),
            timings,
            slot,
        )
        return self._finish(image, analysis.detections, timings, embeddings=analysis.embeddings)

    async def recognize(
        self,
        data: bytes,
        *,
        threshold: float | None = None,
        min_face_size: int | None = None,
        max_faces: int | None = None,
        source: str | None = None,
        slot: Slot | None = None,
    ) -> ImageResult:
        timings = Timings()
        image = await self._engine.decode(data, timings)
        options = self.detect_options(None, min_face_size, max_faces)
        naming = self._config.face_recognition.recognition_threshold if threshold is None else threshold
        pipeline, gallery, recorder = self._pipeline, self._gallery, self._sightings if source is not None else None

        def job() -> tuple[Detections, list[Match], list[int] | None]:
            detections = pipeline.detect(image.frame, options, timings)
            # The faces' crops and quality are made on the sightings thread while they are embedded here;
            # the write follows from this thread (the answer waits for it: an answered sighting is kept).
            prepared = None
            if recorder is not None and source is not None and len(detections):
                prepared = recorder.prepare(source, image.frame, detections)
            embeddings = pipeline.embed(image.frame, detections, timings)
            with timings.measure("search"):
                matches = gallery.match(embeddings, naming)
            if recorder is None or source is None or prepared is None:
                return detections, matches, None
            with timings.measure("sightings"):
                seen = SeenImage(source, time.time(), image.frame, detections, embeddings, matches, prepared)
                return detections, matches, recorder.keep(seen)

        detections, matches, sighting_ids = await self._engine.infer(job, timings, slot)
        return self._finish(image, detections, timings, matches=matches, sighting_ids=sighting_ids)

    async def add_face(
        self,
        name: str,
        data: bytes,
        *,
        bbox: np.ndarray | None = None,
        pick_largest: bool = False,
        min_face_size: int | None = None,
        slot: Slot | None = None,
    ) -> EnrolResult:
        clean_name = normalize_name(name)
        timings = Timings()
        image = await self._engine.decode(data, timings)
        options = self.detect_options(None, min_face_size, None)
        choose = single_face(pick_largest)
        if bbox is not None:
            options, choose = options_for_region(options, bbox), face_in_region(bbox)
        pipeline = self._pipeline
        analysis = await self._engine.infer(
            lambda: pipeline.analyze(image.frame, options, timings, choose=choose),
            timings,
            slot,
        )
        assert analysis.embeddings is not None
        detections = analysis.detections
        crop = await self._engine.in_images(face_crop_jpeg, image.frame, detections.boxes[0])
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
            added = await self._database.run(self._gallery.add, clean_name, new_face)
        await self._people.refresh_counts()
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
        sighting_ids: list[int] | None = None,
    ) -> ImageResult:
        self._engine.finish(timings)
        return ImageResult(image.width, image.height, detections, timings, embeddings, matches, sighting_ids)
