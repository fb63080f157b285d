"""Detect -> align -> embed on one backend.  Runs inside the inference worker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from hailo_face_server.backends.base import FaceBackend
from hailo_face_server.errors import MultipleFaces, NoFace
from hailo_face_server.faces import Detections
from hailo_face_server.frames import Frame
from hailo_face_server.geometry import box_areas, centres_inside, iou


@dataclass(frozen=True)
class DetectOptions:
    threshold: float
    min_face_size: int
    max_faces: int


@dataclass
class Timings:
    stages_ms: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            self.stages_ms[stage] = round(self.stages_ms.get(stage, 0.0) + elapsed, 2)


@dataclass
class FaceAnalysis:
    detections: Detections
    embeddings: np.ndarray | None = None


FaceChooser = Callable[[Detections], Detections]


class FacePipeline:
    def __init__(self, backend: FaceBackend) -> None:
        self.backend = backend

    def detect(self, frame: Frame, options: DetectOptions, timings: Timings) -> Detections:
        """Faces, largest first, at most ``options.max_faces`` of them."""
        with timings.measure("detect"):
            found = self.backend.detect(frame, min_face_size=options.min_face_size, threshold=options.threshold)
        order = np.argsort(-box_areas(found.boxes), kind="stable")[: options.max_faces]
        return found.select(order)

    def embed(self, frame: Frame, detections: Detections, timings: Timings) -> np.ndarray:
        with timings.measure("align"):
            chips = self.backend.align(frame, detections)
        with timings.measure("embed"):
            return self.backend.embed(chips)

    def analyze(
        self,
        frame: Frame,
        options: DetectOptions,
        timings: Timings,
        *,
        embed: bool = True,
        choose: FaceChooser | None = None,
    ) -> FaceAnalysis:
        detections = self.detect(frame, options, timings)
        if choose is not None:
            detections = choose(detections)
        if not embed:
            return FaceAnalysis(detections)
        return FaceAnalysis(detections, self.embed(frame, detections, timings))

    def embed_largest_faces(self, images: Sequence[Frame], options: DetectOptions) -> list[np.ndarray | None]:
        """The embedding of the largest face of each image (None where none is found), in one batch."""
        chips: list[np.ndarray] = []
        owners: list[int] = []
        for owner, frame in enumerate(images):
            found = self.detect(frame, options, Timings())
            if len(found):
                chips.append(self.backend.align(frame, found.select([0])))
                owners.append(owner)
        results: list[np.ndarray | None] = [None] * len(images)
        if chips:
            for owner, vector in zip(owners, self.backend.embed(np.concatenate(chips)), strict=True):
                results[owner] = vector
        return results


def options_for_region(options: DetectOptions, region: np.ndarray) -> DetectOptions:
    """Look for faces as small as the region a client pointed at, if it is below the minimum."""
    side = float(min(region[2] - region[0], region[3] - region[1]))
    if side >= options.min_face_size:
        return options
    return replace(options, min_face_size=max(16, int(side * 0.8)))


def face_in_region(region: np.ndarray) -> FaceChooser:
    """Choose the face best matching a client's box (its centre must lie inside)."""

    def choose(detections: Detections) -> Detections:
        inside = np.flatnonzero(centres_inside(detections.boxes, region))
        if len(inside) == 0:
            raise NoFace("No face was found inside the given bbox.")
        overlaps = iou(region, detections.boxes[inside])
        return detections.select([int(inside[int(np.argmax(overlaps))])])

    return choose


def single_face(pick_largest: bool) -> FaceChooser:
    """The one face to enrol: refuse several unless the largest may be taken."""

    def choose(detections: Detections) -> Detections:
        if len(detections) == 0:
            raise NoFace("No face was found in the image.")
        if len(detections) > 1 and not pick_largest:
            boxes = [[round(float(v), 1) for v in box] for box in detections.boxes]
            raise MultipleFaces(
                f'The image shows {len(detections)} faces; send a bbox to choose one, or "pick": "largest".',
                faces=[
                    {"bbox": box, "score": round(float(s), 4)} for box, s in zip(boxes, detections.scores, strict=True)
                ],
            )
        largest = int(np.argmax(box_areas(detections.boxes)))
        return detections.select([largest])

    return choose
