"""The CPU backend with dlib's own descriptor, across threads and helper processes, gives dlib's answers."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.frames import Frame
from hailo_face_server.imaging import decode_image
from hailo_face_server.runtimes.descriptor_pool import describe_chips
from tests.support import Faces


@pytest.fixture(scope="module")
def two_helpers() -> CpuBackend:
    backend = CpuBackend(helper_processes=2, descriptor="dlib")
    deadline = time.monotonic() + 30
    while not all(h.ready.is_set() for h in backend.embedder.descriptor._pool._helpers):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the descriptor helpers did not start"
        time.sleep(0.05)
    yield backend
    backend.close()


def test_descriptors_from_helpers_equal_dlibs_own(two_helpers: CpuBackend, faces: Faces) -> None:
    frame = decode_image(faces.group("bbt3.jpg").read_bytes(), 10**8).frame
    found = two_helpers.detect(frame, min_face_size=40, threshold=0.5)
    chips = two_helpers.align(frame, found)
    from_helpers = two_helpers.embed(chips)
    local = describe_chips(two_helpers.embedder.descriptor._model, chips)  # type: ignore[attr-defined]
    assert np.allclose(from_helpers, local / np.linalg.norm(local, axis=1, keepdims=True), atol=1e-6)


def test_concurrent_requests_get_the_same_answers_as_one_at_a_time(two_helpers: CpuBackend, faces: Faces) -> None:
    assert two_helpers.concurrency == 2
    images = [decode_image(faces.person(name, 2).read_bytes(), 10**8).frame for name in ("amy", "raj", "penny")]
    images.append(decode_image(faces.group("bbt3.jpg").read_bytes(), 10**8).frame)

    def analyse(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        found = two_helpers.detect(frame, min_face_size=40, threshold=0.5)
        return found.boxes, two_helpers.embed(two_helpers.align(frame, found))

    serial = [analyse(frame) for frame in images]
    with ThreadPoolExecutor(2) as pool:
        concurrent = list(pool.map(analyse, images * 3))
    for (boxes, vectors), (expected_boxes, expected_vectors) in zip(concurrent, serial * 3, strict=True):
        assert np.array_equal(boxes, expected_boxes)
        assert np.allclose(vectors, expected_vectors, atol=1e-6)


def test_a_helper_that_dies_is_replaced_by_local_work(faces: Faces, caplog: pytest.LogCaptureFixture) -> None:
    backend = CpuBackend(helper_processes=1, descriptor="dlib")
    try:
        pool = backend.embedder.descriptor._pool  # type: ignore[attr-defined]
        (helper,) = pool._helpers
        helper.ready.wait(30)
        helper.process.kill()
        helper.process.wait()
        frame = decode_image(faces.person("amy", 1).read_bytes(), 10**8).frame
        found = backend.detect(frame, min_face_size=40, threshold=0.5)
        vectors = backend.embed(backend.align(frame, found))
        assert vectors.shape == (1, 128)
        assert abs(float(np.linalg.norm(vectors[0])) - 1) < 1e-5
        assert "descriptor helper process stopped" in caplog.text
        assert pool._helpers == []
        assert backend.embed(backend.align(frame, found)).shape == (1, 128)
    finally:
        backend.close()
