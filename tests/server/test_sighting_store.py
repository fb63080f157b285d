"""The SQLite store of sightings: schema, every field, merging, paging, clusters, labels and retention."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hailo_face_server.errors import InvalidRequest
from hailo_face_server.sightings.store import (
    OUTCOMES,
    SCHEMA_VERSION,
    NewSighting,
    RetentionPolicy,
    SchemaTooNew,
    SightingQuery,
    SightingStore,
)

NOW = 1_750_000_000.0
MODEL = "arcface_r50"
DIM = 16
HOUR = 3600.0
DAY = 24 * HOUR


def vector(seed: int, dim: int = DIM) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return values / np.linalg.norm(values)


def sighting(seed: int = 1, **changes: object) -> NewSighting:
    base = NewSighting(
        source="camera.front_door",
        seen_at=NOW,
        bbox=[10.5, 20.25, 110.0, 140.75],
        landmarks=np.array([[30.0, 50.0], [70.0, 50.0], [50.0, 70.0], [35.0, 90.0], [65.0, 90.0]]),
        landmark_scheme="arcface_5",
        crop_jpeg=b"\xff\xd8crop" + bytes([seed % 256]),
        model_id=MODEL,
        embedding=vector(seed),
        detection_score=0.91,
        face_size=120.0,
        sharpness=35.5,
        frontalness=0.8,
        quality=0.6,
        outcome="unknown",
        identity_id=None,
        identity_name=None,
        confidence=0.12,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def named(seed: int, identity_id: int, name: str, **changes: object) -> NewSighting:
    return sighting(seed, outcome="named", identity_id=identity_id, identity_name=name, confidence=0.93, **changes)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sightings.db"


@pytest.fixture
def store(path: Path) -> Iterator[SightingStore]:
    opened = SightingStore(path)
    yield opened
    opened.close()


def tamper(path: Path, *statements: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()


# Schema


def test_a_new_file_has_the_schema_wal_and_incremental_vacuum(store: SightingStore, path: Path) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sightings", "sighting_embeddings", "sighting_crops"} <= tables
    assert OUTCOMES == ("named", "unknown", "ignored")


def test_reopening_keeps_the_sightings(path: Path) -> None:
    first = SightingStore(path)
    sighting_id = first.add(sighting(1))
    first.close()
    again = SightingStore(path)
    assert again.schema_version() == SCHEMA_VERSION
    assert again.get(sighting_id) is not None
    again.close()


def test_a_file_from_a_newer_server_is_refused(path: Path) -> None:
    SightingStore(path).close()
    tamper(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="recent sightings"):
        SightingStore(path)


# Adding and reading


def test_every_field_round_trips(store: SightingStore) -> None:
    new = named(7, identity_id=3, name="Alice", source="camera.garden", seen_at=NOW - 5)
    sighting_id = store.add(new)
    record = store.get(sighting_id)
    assert record is not None
    assert record.id == sighting_id
    assert record.source == "camera.garden"
    assert (record.first_seen, record.last_seen, record.times_seen) == (NOW - 5, NOW - 5, 1)
    assert record.bbox == (10.5, 20.25, 110.0, 140.75)
    assert record.landmarks == ((30.0, 50.0), (70.0, 50.0), (50.0, 70.0), (35.0, 90.0), (65.0, 90.0))
    assert record.landmark_scheme == "arcface_5"
    assert (record.model_id, record.embedding_dim) == (MODEL, DIM)
    assert record.detection_score == pytest.approx(0.91)
    assert (record.face_size, record.sharpness, record.frontalness) == (120.0, 35.5, pytest.approx(0.8))
    assert record.quality == pytest.approx(0.6)
    assert (record.outcome, record.identity_id, record.identity_name) == ("named", 3, "Alice")
    assert record.confidence == pytest.approx(0.93)
    assert (record.cluster_id, record.labelled_at, record.rejected_identity_id) == (None, None, None)
    assert record.crop_bytes == len(new.crop_jpeg)
    assert store.crop(sighting_id) == new.crop_jpeg
    ids, vectors = store.vectors([sighting_id], MODEL, DIM)
    assert ids.tolist() == [sighting_id]
    assert vectors.dtype == np.float32 and vectors.shape == (1, DIM)
    np.testing.assert_allclose(vectors[0], vector(7), atol=1e-6)
    assert store.get(sighting_id + 100) is None
    assert store.crop(sighting_id + 100) is None


def test_a_failed_write_leaves_nothing_behind(store: SightingStore) -> None:
    # The embedding row fails NOT NULL after the sighting row was inserted: all of it is rolled back.
    with pytest.raises(sqlite3.IntegrityError):
        store.add(sighting(1, model_id=None))
    assert store.count() == 0
    assert store.vectors([1], MODEL, DIM)[0].size == 0


def test_a_batch_keeps_all_its_writes_or_none(store: SightingStore) -> None:
    """One recognised image's faces are one write: a failure on its third face stores none of them."""

    def three_faces_the_last_wrong() -> None:
        with store.batch():
            for seed in (1, 2):
                store.add(sighting(seed))
            store.add(sighting(3, model_id=None))

    with pytest.raises(sqlite3.IntegrityError):
        three_faces_the_last_wrong()
    assert store.count() == 0
    with store.batch():
        ids = [store.add(sighting(seed)) for seed in (4, 5)]
    assert store.count() == 2
    assert store.merge(ids[0], NOW + 1, None)
    with store.batch(), pytest.raises(RuntimeError, match="nest"), store.batch():
        pass


@pytest.mark.parametrize(
    "changes",
    [
        {"outcome": "maybe"},
        {"outcome": "named"},  # without an identity
        {"quality": float("nan")},
        {"seen_at": float("inf")},
        {"bbox": [1.0, 2.0, 3.0]},
        {"landmarks": np.zeros((68, 2))},
        {"embedding": np.zeros(0, np.float32)},
        {"embedding": np.full(DIM, np.nan, np.float32)},
    ],
)
def test_what_would_be_stored_wrong_is_refused(store: SightingStore, changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the field
        store.add(sighting(1, **changes))
    assert store.count() == 0


def test_ids_are_never_reused(store: SightingStore) -> None:
    first = store.add(sighting(1))
    store.delete([first])
    assert store.add(sighting(2)) > first


# Merging repeats


def test_merge_counts_a_repeat_and_keeps_the_better_view(store: SightingStore) -> None:
    sighting_id = store.add(sighting(1, seen_at=NOW, quality=0.3))
    assert store.merge(sighting_id, NOW + 2, None)
    record = store.get(sighting_id)
    assert record is not None
    assert (record.times_seen, record.first_seen, record.last_seen) == (2, NOW, NOW + 2)
    assert record.quality == pytest.approx(0.3)

    better = named(
        9,
        identity_id=4,
        name="Bob",
        seen_at=NOW + 999,  # not used: the repeat's time is the argument
        crop_jpeg=b"\xff\xd8sharper",
        bbox=[1.0, 2.0, 3.0, 4.0],
        landmark_scheme="dlib_5",
        quality=0.9,
        sharpness=80.0,
    )
    assert store.merge(sighting_id, NOW + 1, better)  # an earlier frame, processed late
    record = store.get(sighting_id)
    assert record is not None
    assert (record.times_seen, record.first_seen, record.last_seen) == (3, NOW, NOW + 2)
    assert store.crop(sighting_id) == b"\xff\xd8sharper"
    np.testing.assert_allclose(store.vectors([sighting_id], MODEL, DIM)[1][0], vector(9), atol=1e-6)
    assert (record.bbox, record.landmark_scheme, record.quality, record.sharpness) == (
        (1.0, 2.0, 3.0, 4.0),
        "dlib_5",
        pytest.approx(0.9),
        80.0,
    )
    assert (record.outcome, record.identity_id, record.identity_name) == ("named", 4, "Bob")
    assert record.confidence == pytest.approx(0.93)


def test_merge_keeps_the_owners_label_and_leaves_a_cluster_when_named(store: SightingStore) -> None:
    labelled = store.add(sighting(1))
    store.assign([labelled], "named", 5, "Carol", labelled_at=NOW)
    store.merge(labelled, NOW + 1, sighting(2, quality=0.95))  # recognition says unknown
    record = store.get(labelled)
    assert record is not None
    assert (record.outcome, record.identity_id, record.labelled_at, record.quality) == (
        "named",
        5,
        NOW,
        pytest.approx(0.95),
    )

    clustered = store.add(sighting(3))
    store.set_cluster(clustered, 77)
    store.merge(clustered, NOW + 1, named(4, identity_id=6, name="Dan"))
    record = store.get(clustered)
    assert record is not None
    assert (record.outcome, record.cluster_id) == ("named", None)


def test_merge_into_a_deleted_sighting_says_so(store: SightingStore) -> None:
    sighting_id = store.add(sighting(1))
    store.delete([sighting_id])
    assert not store.merge(sighting_id, NOW, sighting(2))
    assert store.count() == 0


# Merge candidates and vectors


def test_recent_gives_the_candidates_of_one_camera_and_model(store: SightingStore) -> None:
    old = store.add(sighting(1, seen_at=NOW - 100))
    a = store.add(named(2, identity_id=8, name="Eve", seen_at=NOW - 10, quality=0.7))
    b = store.add(sighting(3, seen_at=NOW - 5, quality=0.4))
    store.add(sighting(4, seen_at=NOW - 5, source="camera.garden"))
    store.add(sighting(5, seen_at=NOW - 5, model_id="other", embedding=vector(5, 8)))
    store.merge(old, NOW - 1, None)  # a repeat makes an old sighting recent again

    recent = store.recent("camera.front_door", NOW - 20, MODEL)
    assert recent.ids.tolist() == [old, b, a]
    assert recent.outcomes == ("unknown", "unknown", "named")
    assert recent.identity_ids.tolist() == [-1, -1, 8]
    np.testing.assert_allclose(recent.qualities, [0.6, 0.4, 0.7], rtol=1e-6)
    np.testing.assert_allclose(recent.last_seen, [NOW - 1, NOW - 5, NOW - 10])
    assert recent.vectors.dtype == np.float32 and recent.vectors.shape == (3, DIM)
    np.testing.assert_allclose(recent.vectors[2], vector(2), atol=1e-6)
    assert store.recent("camera.front_door", NOW - 20, MODEL, dim=8).ids.size == 0
    assert store.recent("camera.back", NOW - 20, MODEL).vectors.shape[0] == 0


def test_recent_and_its_best_quality_read_only_the_newest_sightings_of_a_busy_camera(store: SightingStore) -> None:
    ids = [store.add(sighting(i, seen_at=NOW - 30 + i, quality=0.9 if i == 0 else 0.3)) for i in range(6)]
    recent = store.recent("camera.front_door", NOW - 60, MODEL, limit=4)
    assert recent.ids.tolist() == ids[:1:-1]  # the four newest, newest first
    assert store.best_recent_quality("camera.front_door", NOW - 60, MODEL, limit=4) == pytest.approx(0.3)
    # The oldest, best view counts once it is among the newest again (seen again).
    store.merge(ids[0], NOW, None)
    assert store.recent("camera.front_door", NOW - 60, MODEL, limit=4).ids.tolist()[0] == ids[0]
    assert store.best_recent_quality("camera.front_door", NOW - 60, MODEL, limit=4) == pytest.approx(0.9)
    assert store.best_recent_quality("camera.front_door", NOW - 60, MODEL) == pytest.approx(0.9)
    assert len(store.recent("camera.front_door", NOW - 60, MODEL).ids) == 6


def test_vectors_follow_the_ids_asked_and_skip_other_models(store: SightingStore) -> None:
    a = store.add(sighting(1))
    b = store.add(sighting(2))
    other = store.add(sighting(3, model_id="other"))
    short = store.add(sighting(4, embedding=vector(4, 8)))
    ids, vectors = store.vectors([b, other, 999, short, a], MODEL, DIM)
    assert ids.tolist() == [b, a]
    np.testing.assert_allclose(vectors, np.stack([vector(2), vector(1)]), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


# Listing


def test_list_filters(store: SightingStore) -> None:
    front = store.add(sighting(1, seen_at=NOW - 30))
    garden = store.add(sighting(2, seen_at=NOW - 20, source="camera.garden"))
    alice = store.add(named(3, identity_id=1, name="Alice", seen_at=NOW - 10))
    ignored = store.add(sighting(4, seen_at=NOW, outcome="ignored"))
    store.set_cluster(front, 40)

    def ids(**filters: object) -> list[int]:
        return [s.id for s in store.list(SightingQuery(**filters)).sightings]  # type: ignore[arg-type]

    assert ids() == [ignored, alice, garden, front]
    assert ids(source="camera.garden") == [garden]
    assert ids(identity_id=1) == [alice]
    assert ids(outcome="unknown") == [garden, front]
    assert ids(cluster_id=40) == [front]
    assert ids(in_cluster=True) == [front]
    assert ids(outcome="unknown", in_cluster=False) == [garden]
    assert ids(since=NOW - 20) == [ignored, alice, garden]
    assert ids(until=NOW - 10) == [garden, front]
    assert ids(since=NOW - 20, until=NOW, source="camera.front_door") == [alice]
    page = store.list(SightingQuery(outcome="unknown", limit=1))
    assert (page.total, len(page.sightings)) == (2, 1)


def test_keyset_paging_gives_each_row_once_in_order(store: SightingStore) -> None:
    # Several rows share a time: the id breaks the tie.
    for i in range(1000):
        store.add(sighting(i, seen_at=NOW - (i // 3), source=f"camera.{i % 2}"))
    seen: list[tuple[float, int]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.list(SightingQuery(limit=70, cursor=cursor))
        assert page.total == 1000
        seen += [(s.last_seen, s.id) for s in page.sightings]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 15
    assert len(seen) == len(set(seen)) == 1000
    assert seen == sorted(seen, reverse=True)

    # Paging with a filter, and a sighting added meanwhile does not shift the pages.
    first = store.list(SightingQuery(source="camera.1", limit=100))
    store.add(sighting(5000, seen_at=NOW + 1, source="camera.1"))
    second = store.list(SightingQuery(source="camera.1", limit=500, cursor=first.next_cursor))
    both = [s.id for s in first.sightings + second.sightings]
    assert len(both) == len(set(both)) == 500
    assert second.next_cursor is None


def test_bad_pages_are_refused(store: SightingStore) -> None:
    with pytest.raises(InvalidRequest):
        SightingQuery(limit=0)
    with pytest.raises(InvalidRequest):
        SightingQuery(limit=501)
    with pytest.raises(InvalidRequest):
        SightingQuery(outcome="maybe")
    for cursor in ("not base64!", "bm90IGpzb24", "WzEsMiwzXQ", "WyJhIiwiYiJd"):
        with pytest.raises(InvalidRequest):
            store.list(SightingQuery(cursor=cursor))


def test_low_quality_are_the_unknown_sightings_in_no_cluster(store: SightingStore) -> None:
    poor = store.add(sighting(1, seen_at=NOW - 10, quality=0.1))
    poorer = store.add(sighting(2, seen_at=NOW, quality=0.05))
    good = store.add(sighting(3))
    store.add(named(4, identity_id=1, name="Alice"))
    store.set_cluster(good, good)
    page = store.low_quality(10)
    assert [s.id for s in page.sightings] == [poorer, poor]
    assert (page.total, page.next_cursor) == (2, None)


# Clusters


def test_clusters_are_summarised_largest_then_latest(store: SightingStore) -> None:
    big = [store.add(sighting(i, seen_at=NOW - 100 + i, quality=q)) for i, q in enumerate([0.5, 0.9, 0.7])]
    store.merge(big[0], NOW - 50, None)
    for sighting_id in big:
        store.set_cluster(sighting_id, 10)
    garden = store.add(sighting(20, seen_at=NOW - 5, source="camera.garden"))
    store.set_cluster(garden, 11)
    older = [store.add(sighting(30 + i, seen_at=NOW - 500)) for i in range(3)]
    for sighting_id in older:
        store.set_cluster(sighting_id, 12)
    yard = store.add(sighting(40, seen_at=NOW - 1, source="camera.yard"))
    store.set_cluster(yard, 10)
    store.add(sighting(50))  # in no cluster

    clusters = store.clusters(best=2)
    assert [c.id for c in clusters] == [10, 12, 11]
    big_cluster = clusters[0]
    assert (big_cluster.size, big_cluster.seen) == (4, 5)
    assert big_cluster.sources == ("camera.front_door", "camera.yard")
    assert (big_cluster.first_seen, big_cluster.last_seen) == (NOW - 100, NOW - 1)
    assert big_cluster.best_sighting_ids == (big[1], big[2])
    assert clusters[1].best_sighting_ids == (older[2], older[1])  # equal quality and time: the newer id first
    assert len(store.clusters()[0].best_sighting_ids) == 4

    members = store.cluster_members(12)
    assert [m.id for m in members] == sorted(older, reverse=True)
    ids, cluster_ids, vectors = store.clustered(MODEL)
    assert dict(zip(ids.tolist(), cluster_ids.tolist(), strict=True)) == {
        **dict.fromkeys([*big, yard], 10),
        garden: 11,
        **dict.fromkeys(older, 12),
    }
    assert vectors.shape == (8, DIM)
    np.testing.assert_allclose(vectors[ids.tolist().index(garden)], vector(20), atol=1e-6)
    assert store.clustered("other")[0].size == 0


def test_set_cluster_moves_every_member_of_merged_clusters(store: SightingStore) -> None:
    a = [store.add(sighting(i)) for i in range(3)]
    b = [store.add(sighting(10 + i)) for i in range(2)]
    for sighting_id in a:
        store.set_cluster(sighting_id, 1)
    for sighting_id in b:
        store.set_cluster(sighting_id, 2)
    lone = store.add(sighting(20))
    store.set_cluster(lone, 3)
    bridge = store.add(sighting(30))
    store.set_cluster(bridge, 1, merged=[2, 3])
    assert [(c.id, c.size) for c in store.clusters()] == [(1, 7)]
    assert {m.id for m in store.cluster_members(1)} == {*a, *b, lone, bridge}

    known = store.add(named(40, identity_id=1, name="Alice"))
    store.set_cluster(known, 1)  # only unknown faces are clustered
    record = store.get(known)
    assert record is not None and record.cluster_id is None


# Labels and deletes


def test_assign_reject_rename(store: SightingStore) -> None:
    a = store.add(sighting(1))
    b = store.add(sighting(2))
    store.set_cluster(a, 5)
    store.set_cluster(b, 5)
    assert store.assign([a, b, 999], "named", 7, "Frank", labelled_at=NOW) == 2
    record = store.get(a)
    assert record is not None
    assert (record.outcome, record.identity_id, record.identity_name, record.cluster_id, record.labelled_at) == (
        "named",
        7,
        "Frank",
        None,
        NOW,
    )
    assert record.confidence == 1.0  # the owner labelled it: theirs for sure
    assert store.clusters() == []
    with pytest.raises(ValueError):  # noqa: PT011
        store.assign([a], "named", None, None, labelled_at=NOW)

    store.rename_identity(7, "Franz")
    assert {s.identity_name for s in store.list(SightingQuery(identity_id=7)).sightings} == {"Franz"}

    assert store.reject(a, 7)
    record = store.get(a)
    assert record is not None
    assert (record.outcome, record.identity_id, record.identity_name, record.labelled_at) == (
        "unknown",
        None,
        None,
        None,
    )
    assert record.rejected_identity_id == 7
    assert not store.reject(999, 7)
    store.assign([a], "ignored", None, None, labelled_at=NOW + 1)
    record = store.get(a)
    assert record is not None and (record.outcome, record.rejected_identity_id) == ("ignored", 7)
    store.assign([a], "named", 7, "Franz", labelled_at=NOW + 2)  # the owner changed their mind
    record = store.get(a)
    assert record is not None and record.rejected_identity_id is None


def test_deletes(store: SightingStore) -> None:
    loose = [store.add(sighting(i)) for i in range(3)]
    cluster = [store.add(sighting(10 + i)) for i in range(2)]
    for sighting_id in cluster:
        store.set_cluster(sighting_id, 9)
    person = [store.add(named(20 + i, identity_id=3, name="Gina")) for i in range(2)]
    store.reject(loose[2], 3)

    assert store.delete([loose[0], loose[1], 999]) == 2
    assert store.crop(loose[0]) is None and store.vectors([loose[0]], MODEL, DIM)[0].size == 0
    assert sorted(store.delete_cluster(9)) == cluster
    assert store.delete_cluster(9) == []
    assert sorted(store.delete_identity(3)) == person
    record = store.get(loose[2])
    assert record is not None and record.rejected_identity_id is None  # the person is gone
    assert store.count() == 1


def test_summary(store: SightingStore) -> None:
    store.add(sighting(1, seen_at=NOW - 50))
    store.add(named(2, identity_id=1, name="Alice", seen_at=NOW - 40))
    latest_front = store.add(named(3, identity_id=2, name="Bob", seen_at=NOW - 10))
    alice_garden = store.add(named(4, identity_id=1, name="Alice", seen_at=NOW - 20, source="camera.garden"))
    store.add(sighting(5, seen_at=NOW - 60, source="camera.garden", outcome="ignored"))

    summary = store.summary()
    assert (summary.total, summary.named, summary.unknown, summary.ignored) == (5, 3, 1, 1)
    front, garden = summary.sources
    assert (front.source, front.count, front.last_seen, front.last_sighting_id) == (
        "camera.front_door",
        3,
        NOW - 10,
        latest_front,
    )
    assert (front.last_outcome, front.last_identity_name) == ("named", "Bob")
    assert (garden.source, garden.count, garden.last_sighting_id) == ("camera.garden", 2, alice_garden)
    alice, bob = summary.identities
    assert (alice.identity_id, alice.name, alice.last_seen, alice.source, alice.sighting_id) == (
        1,
        "Alice",
        NOW - 20,
        "camera.garden",
        alice_garden,
    )
    assert alice.confidence == pytest.approx(0.93)
    assert (bob.identity_id, bob.sighting_id) == (2, latest_front)


# Retention


def test_purge_by_age_for_each_outcome(store: SightingStore) -> None:
    old_unknown = store.add(sighting(1, seen_at=NOW - 2 * DAY))
    fresh_unknown = store.add(sighting(2, seen_at=NOW - HOUR))
    old_named = store.add(named(3, identity_id=1, name="Alice", seen_at=NOW - 8 * DAY))
    kept_named = store.add(named(4, identity_id=1, name="Alice", seen_at=NOW - 2 * DAY))
    old_ignored = store.add(sighting(5, seen_at=NOW - 8 * DAY, outcome="ignored"))
    kept_ignored = store.add(sighting(6, seen_at=NOW - 2 * DAY, outcome="ignored"))
    repeated = store.add(sighting(7, seen_at=NOW - 3 * DAY))
    store.merge(repeated, NOW - HOUR, None)  # its last sighting is what counts

    policy = RetentionPolicy(keep_unknown_s=DAY, keep_named_s=7 * DAY, max_sightings=100, max_bytes=10**9)
    assert sorted(store.purge(policy, NOW)) == sorted([old_unknown, old_named, old_ignored])
    remaining = {s.id for s in store.list(SightingQuery()).sightings}
    assert remaining == {fresh_unknown, kept_named, kept_ignored, repeated}
    assert store.purge(policy, NOW) == []


def test_purge_by_count_takes_the_oldest(store: SightingStore) -> None:
    ids = [store.add(sighting(i, seen_at=NOW - 1000 + i)) for i in range(1200)]
    policy = RetentionPolicy(keep_unknown_s=DAY, keep_named_s=DAY, max_sightings=150, max_bytes=10**9)
    deleted = store.purge(policy, NOW)
    assert deleted == ids[:1050]  # oldest first, in batches
    assert store.count() == 150


def test_purge_by_bytes_keeps_ten_thousand_sightings_within_the_cap(store: SightingStore, path: Path) -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(4 * 1024, 8 * 1024, 10_000)
    vectors = rng.standard_normal((10_000, 128)).astype(np.float32)
    template = sighting(1)
    for i in range(10_000):
        store.add(
            dataclasses.replace(
                template, seen_at=NOW - 10_000 + i, crop_jpeg=rng.bytes(int(sizes[i])), embedding=vectors[i]
            )
        )
    full = store.size_bytes()
    assert full > 60_000_000  # crops, embeddings and rows

    cap = 20_000_000
    policy = RetentionPolicy(keep_unknown_s=DAY, keep_named_s=DAY, max_sightings=100_000, max_bytes=cap)
    deleted = store.purge(policy, NOW)
    assert store.size_bytes() <= cap
    assert store.size_bytes() > cap * 0.9  # not much more deleted than needed
    assert deleted == list(range(1, len(deleted) + 1))  # the oldest
    assert store.count() == 10_000 - len(deleted)
    # The freed pages went back to the filesystem, and the WAL was cut back.
    assert path.stat().st_size <= cap
    assert Path(f"{path}-wal").stat().st_size <= 4 * 1024 * 1024
    assert store.purge(policy, NOW) == []


# Defensive reads


def test_values_of_the_wrong_type_read_as_neutral_ones(store: SightingStore, path: Path) -> None:
    broken = store.add(sighting(1))
    store.set_cluster(broken, 3)
    fine = store.add(named(2, identity_id=1, name="Alice"))
    tamper(
        path,
        "PRAGMA ignore_check_constraints = ON",
        f"""
        UPDATE sightings SET last_seen = 'yesterday', first_seen = X'00', times_seen = 'many', quality = 'good',
            bbox = 'not json', landmarks = '[[1, 2]]', confidence = 1e999, labelled_at = 'soon',
            identity_name = X'ff', source = CAST(X'c3' AS TEXT) WHERE id = {broken}
        """,
        f"UPDATE sighting_crops SET jpeg = 'text' WHERE sighting_id = {broken}",
        f"UPDATE sighting_embeddings SET vector = 'text' WHERE sighting_id = {broken}",
        f"UPDATE sightings SET cluster_id = 'seven', identity_id = 1.5 WHERE id = {fine}",
    )
    record = store.get(broken)
    assert record is not None
    assert (record.last_seen, record.first_seen, record.times_seen, record.quality) == (0.0, 0.0, 1, 0.0)
    assert record.bbox == (0.0, 0.0, 0.0, 0.0) and record.landmarks == ((0.0, 0.0),) * 5
    assert (record.confidence, record.labelled_at, record.crop_bytes) == (0.0, None, 0)
    assert record.identity_name == "\ufffd" and record.source == "\ufffd"
    other = store.get(fine)
    assert other is not None and (other.cluster_id, other.identity_id) == (None, None)
    assert store.crop(broken) is None
    assert store.vectors([broken, fine], MODEL, DIM)[0].tolist() == [fine]

    # Every read still works, and paging passes the odd row once.
    page = store.list(SightingQuery(limit=1))
    rest = store.list(SightingQuery(limit=1, cursor=page.next_cursor))
    assert {page.sightings[0].id, rest.sightings[0].id} == {broken, fine}
    store.clusters()
    store.clustered(MODEL)
    assert {s.source for s in store.summary().sources} == {"\ufffd", "camera.front_door"}
    store.recent("camera.front_door", 0.0, MODEL)
    store.merge(broken, NOW, None)
    store.purge(RetentionPolicy(DAY, DAY, 100, 10**9), NOW)
