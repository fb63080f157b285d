"""The recorder writes one recognised image's faces as one transaction, and its clusters follow the file."""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.config import SightingsConfig
from hailo_face_server.imaging import decode_image
from hailo_face_server.matching import Match
from hailo_face_server.sightings.recorder import PreparedFace, SeenImage, SightingRecorder
from hailo_face_server.sightings.store import NewSighting, SightingStore
from tests.support import Faces


def open_recorder(cpu_backend: CpuBackend, folder: Path, merge_window_s: float) -> SightingRecorder:
    config = SightingsConfig(
        enabled=True,
        db_file=folder / "sightings.db",
        keep_unknown_days=7,
        keep_named_days=2,
        max_sightings=5000,
        max_mb=200,
        merge_window_s=merge_window_s,
    )
    return SightingRecorder.open(config, cpu_backend.info)


@pytest.fixture
def recorder(cpu_backend: CpuBackend, tmp_path: Path) -> Iterator[SightingRecorder]:
    opened = open_recorder(cpu_backend, tmp_path, merge_window_s=0)
    yield opened
    opened.close()


@pytest.fixture
def merging_recorder(cpu_backend: CpuBackend, tmp_path: Path) -> Iterator[SightingRecorder]:
    opened = open_recorder(cpu_backend, tmp_path, merge_window_s=60)
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


def prepared_now(recorder: SightingRecorder, seen: SeenImage) -> SeenImage:
    """``seen`` with its faces prepared as the inference worker has them prepared (before the write)."""
    done: Future[list[PreparedFace]] = Future()
    done.set_result(recorder._prepare(seen.source, seen.seen_at, seen.frame, seen.detections))
    return dataclasses.replace(seen, prepared=done)


def test_a_repeat_no_better_than_its_sighting_is_merged_and_a_new_face_keeps_its_crop(
    merging_recorder: SightingRecorder, cpu_backend: CpuBackend, faces: Faces, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = group_photo(cpu_backend, faces)
    first_ids = merging_recorder._store(prepared_now(merging_recorder, first))
    crops = {sighting_id: merging_recorder.store.crop(sighting_id) for sighting_id in first_ids}
    assert all(crops.values())

    # The same image scanned again: its faces are no better than the stored views, so no crop is
    # made for them, and each is merged into its sighting, whose crop stays.
    again = prepared_now(merging_recorder, dataclasses.replace(first, seen_at=first.seen_at + 5))
    assert again.prepared is not None
    assert all(face.crop_jpeg is None for face in again.prepared.result())
    real_merge = merging_recorder.store.merge
    better_views: list[NewSighting | None] = []

    def merge(sighting_id: int, seen_at: float, better: NewSighting | None) -> bool:
        better_views.append(better)
        return real_merge(sighting_id, seen_at, better)

    monkeypatch.setattr(merging_recorder.store, "merge", merge)
    assert merging_recorder._store(again) == first_ids
    assert better_views == [None] * 5, "an equal view is not a better one (its quality read back exactly)"
    assert {sighting_id: merging_recorder.store.crop(sighting_id) for sighting_id in first_ids} == crops

    # The same views with embeddings of other people (no repeat of anything stored): still no crop
    # prepared, as they looked like repeats, so the write makes them; every new sighting has its own.
    others = np.roll(first.embeddings, 1, axis=1)[::-1]
    strangers = prepared_now(
        merging_recorder, dataclasses.replace(first, seen_at=first.seen_at + 10, embeddings=others)
    )
    assert strangers.prepared is not None
    assert all(face.crop_jpeg is None for face in strangers.prepared.result())
    new_ids = merging_recorder._store(strangers)
    assert not set(new_ids) & set(first_ids)
    assert len(set(new_ids)) == 5
    for sighting_id in new_ids:
        crop = merging_recorder.store.crop(sighting_id)
        assert crop is not None
        assert Image.open(io.BytesIO(crop)).format == "JPEG"
