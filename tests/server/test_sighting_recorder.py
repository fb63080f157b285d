"""The recorder writes one recognised image's faces as one transaction, and its clusters follow the file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.config import SightingsConfig
from hailo_face_server.imaging import decode_image
from hailo_face_server.matching import Match
from hailo_face_server.sightings.recorder import SeenImage, SightingRecorder
from hailo_face_server.sightings.store import SightingStore
from tests.support import Faces


@pytest.fixture
def recorder(cpu_backend: CpuBackend, tmp_path: Path) -> Iterator[SightingRecorder]:
    config = SightingsConfig(
        enabled=True,
        db_file=tmp_path / "sightings.db",
        keep_unknown_days=7,
        keep_named_days=2,
        max_sightings=5000,
        max_mb=200,
        merge_window_s=0,
    )
    opened = SightingRecorder.open(config, cpu_backend.info)
    yield opened
    opened.close()


def group_photo(cpu_backend: CpuBackend, faces: Faces) -> SeenImage:
    """bbt3's five faces, found and embedded on the CPU backend, all unknown (nobody is taught)."""
    frame = decode_image(faces.group("bbt3.jpg").read_bytes(), 10**8).frame
    found = cpu_backend.detect(frame, min_face_size=40, threshold=0.5)
    vectors = cpu_backend.embed(cpu_backend.align(frame, found))
    matches = [Match(None, None, 0.0, 0.0) for _ in range(len(found))]
    return SeenImage("camera.door", time.time(), frame, found, vectors, matches)


def test_a_failed_write_stores_no_face_of_the_image_and_the_clusters_follow(
    recorder: SightingRecorder, cpu_backend: CpuBackend, faces: Faces, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = group_photo(cpu_backend, faces)
    assert len(seen.detections) == 5
    real_add = SightingStore.add
    calls = 0

    def add_failing_on_the_fourth(store: SightingStore, *args: object, **kwargs: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OSError("disk full")
        return real_add(store, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SightingStore, "add", add_failing_on_the_fourth)
    with pytest.raises(OSError, match="disk full"):
        recorder._store(seen)
    assert recorder.store.count() == 0
    assert recorder.status().stored == 0
    assert len(recorder.clusters) == 0  # three faces had joined clusters before the failure: gone with them

    monkeypatch.setattr(SightingStore, "add", real_add)
    ids = recorder._store(seen)
    assert len(ids) == len(set(ids)) == 5
    assert recorder.store.count() == recorder.status().stored == 5
    stored_ids, clusters, _ = recorder.store.clustered(recorder.model_id)
    assert len(stored_ids) > 0, "bbt3's faces are good enough to cluster"
    assert len(recorder.clusters) == len(np.unique(clusters))
