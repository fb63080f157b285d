"""Unknown-face clusters: the rule on synthetic vectors, and purity on real faces streamed in shuffled order.

The real faces are the 40 portraits (8 people x images 1-5) and five variants
of each, made here with Pillow from fixed seeds (a crop of a few %, scale
0.6-1.0, brightness 0.6-1.3, JPEG quality 40-95), embedded by the CPU backend
(YuNet, dlib's five points and ResNet) as the server embeds a camera's faces.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.frames import Frame
from hailo_face_server.sightings.clusters import JOIN_CONFIDENCE, ClusterChange, UnknownClusters
from tests.support import PEOPLE, Faces

DIM = 8
JOIN = 0.9


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIM, np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def turned(degrees: float) -> np.ndarray:
    """A unit vector in the plane of the first two axes, ``degrees`` from the first."""
    angle = np.deg2rad(degrees)
    return unit(float(np.cos(angle)), float(np.sin(angle)))


# cos 20 degrees = 0.94 >= JOIN; cos 35 degrees = 0.82 < JOIN.


def test_the_first_sighting_founds_a_cluster_named_after_it() -> None:
    clusters = UnknownClusters(DIM, JOIN)
    assert len(clusters) == 0 and clusters.sizes() == {}
    assert clusters.add(7, turned(0)) == ClusterChange(7, ())
    assert clusters.cluster_of(7) == 7
    assert clusters.members(7).tolist() == [7]
    assert clusters.members(7).dtype == np.int64
    assert len(clusters) == 1


def test_a_similar_sighting_joins_and_a_different_one_founds_its_own() -> None:
    clusters = UnknownClusters(DIM, JOIN)
    clusters.add(7, turned(0))
    assert clusters.add(8, turned(10)) == ClusterChange(7, ())
    assert clusters.add(9, turned(90)) == ClusterChange(9, ())
    assert clusters.sizes() == {7: 2, 9: 1}
    assert clusters.members(7).tolist() == [7, 8]
    assert clusters.cluster_of(9) == 9
    assert clusters.cluster_of(10) is None
    assert clusters.members(10).tolist() == []


def test_a_sighting_that_matches_two_clusters_merges_them_into_the_smallest_id() -> None:
    clusters = UnknownClusters(DIM, JOIN)
    clusters.add(5, turned(35))  # founds 5
    clusters.add(3, turned(0))  # too far from 5 (cos 0.82): founds 3, a smaller id, added later
    clusters.add(6, turned(38))  # joins 5
    assert clusters.sizes() == {3: 1, 5: 2}
    bridge = clusters.add(10, turned(17))  # cos 17 = 0.956 to 3; mean cos 18, 21 = 0.94 to 5
    assert bridge == ClusterChange(3, (5,))
    assert clusters.sizes() == {3: 4}
    assert clusters.members(3).tolist() == [3, 5, 6, 10]
    assert clusters.cluster_of(5) == 3 and clusters.cluster_of(6) == 3
    assert clusters.members(5).tolist() == []


def test_a_sighting_joins_on_the_average_not_on_its_nearest_member() -> None:
    """A chain of faces, each like the last, does not drag a cluster along it (single linkage would)."""
    clusters = UnknownClusters(DIM, JOIN)
    clusters.add(1, turned(0))
    assert clusters.add(2, turned(20)).cluster_id == 1  # cos 20 = 0.94
    # cos 20 = 0.94 to sighting 2, but cos 40 = 0.77 to sighting 1: a mean of 0.85.
    assert clusters.add(3, turned(40)) == ClusterChange(3, ())
    assert clusters.sizes() == {1: 2, 3: 1}


def test_removing_sightings_empties_and_drops_a_cluster_and_keeps_the_others() -> None:
    clusters = UnknownClusters(DIM, JOIN)
    clusters.add(1, turned(0))
    clusters.add(2, turned(5))
    clusters.add(3, turned(90))
    clusters.add(4, turned(93))
    clusters.remove([1])  # the founder leaves; the cluster keeps its id
    assert clusters.sizes() == {1: 1, 3: 2}
    assert clusters.cluster_of(1) is None and clusters.cluster_of(2) == 1
    clusters.remove(iter([2, 99]))  # an unknown id is ignored
    assert clusters.sizes() == {3: 2}
    assert len(clusters) == 1
    assert clusters.members(1).tolist() == []
    clusters.remove([])
    assert clusters.add(5, turned(2)) == ClusterChange(5, ())  # nothing is left near 0 degrees


def test_a_founder_that_comes_back_rejoins_the_cluster_named_after_it() -> None:
    clusters = UnknownClusters(DIM, JOIN)
    clusters.add(1, turned(0))
    clusters.add(2, turned(5))
    clusters.remove([1])
    # Far from every member, yet its id names cluster 1: it may not found a second cluster 1.
    assert clusters.add(1, turned(60)) == ClusterChange(1, ())
    assert clusters.sizes() == {1: 2}
    with pytest.raises(ValueError, match="clustered already"):
        clusters.add(2, turned(5))


def test_load_rebuilds_the_state_that_adds_made() -> None:
    rng = np.random.default_rng(3)
    centres = [unit(*rng.normal(size=DIM)) for _ in range(4)]
    added = UnknownClusters(DIM, JOIN)
    vectors: list[np.ndarray] = []
    for sighting_id in range(1, 41):
        vector = centres[sighting_id % 4] + rng.normal(0, 0.05, DIM).astype(np.float32)
        vectors.append(vector / np.linalg.norm(vector))
        added.add(sighting_id, vectors[-1])
    ids = np.arange(1, 41)
    cluster_ids = np.array([added.cluster_of(int(i)) for i in ids])
    loaded = UnknownClusters(DIM, JOIN)
    loaded.add(1000, unit(1))  # replaced by the load
    loaded.load(ids, cluster_ids, np.stack(vectors))
    assert loaded.sizes() == added.sizes()
    assert len(loaded) == len(added) == 4
    for cluster_id in added.sizes():
        assert loaded.members(cluster_id).tolist() == added.members(cluster_id).tolist()
    assert loaded.cluster_of(1000) is None
    probe = centres[2] + rng.normal(0, 0.05, DIM).astype(np.float32)
    assert loaded.add(41, probe / np.linalg.norm(probe)) == added.add(41, probe / np.linalg.norm(probe))


def test_load_refuses_arrays_that_do_not_line_up() -> None:
    clusters = UnknownClusters(DIM, JOIN)
    with pytest.raises(ValueError, match="2 sighting ids, 1 cluster ids and 2 vectors"):
        clusters.load(np.array([1, 2]), np.array([1]), np.zeros((2, DIM), np.float32))
    with pytest.raises(ValueError, match="twice"):
        clusters.load(np.array([1, 1]), np.array([1, 1]), np.zeros((2, DIM), np.float32))


def test_many_sightings_grow_the_buffers_and_keep_every_row() -> None:
    """Past the initial capacity, and after a removal by mask, every sighting is where it was put."""
    rng = np.random.default_rng(5)
    centres = np.stack([unit(*rng.normal(size=DIM)) for _ in range(3)])
    clusters = UnknownClusters(DIM, 0.95)
    for sighting_id in range(1, 1001):
        vector = centres[sighting_id % 3] + rng.normal(0, 0.02, DIM).astype(np.float32)
        clusters.add(sighting_id, vector / np.linalg.norm(vector))
    assert len(clusters) == 3
    assert sorted(clusters.sizes().values()) == [333, 333, 334]
    clusters.remove(range(1, 1001, 2))
    assert sum(clusters.sizes().values()) == 500
    assert all(clusters.cluster_of(i) is None for i in (1, 3, 999))
    assert clusters.members(1).tolist() == list(range(4, 1001, 6))  # cluster 1: ids = 1 mod 3, the odd ones gone


# Real faces ------------------------------------------------------------------------------------

VARIANTS = 5
SHUFFLES = 5


def variant(portrait: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The portrait cropped by a few %, scaled 0.6-1.0, brightened 0.6-1.3 and saved as JPEG of quality 40-95."""
    side = portrait.width
    left, top, right, bottom = rng.uniform(0, 0.05, 4) * side
    picture = portrait.crop((round(left), round(top), round(side - right), round(side - bottom)))
    scale = rng.uniform(0.6, 1.0)
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.Resampling.BICUBIC)
    picture = ImageEnhance.Brightness(picture).enhance(rng.uniform(0.6, 1.3))
    encoded = io.BytesIO()
    picture.save(encoded, "JPEG", quality=int(rng.integers(40, 96)))
    return Image.open(io.BytesIO(encoded.getvalue())).convert("RGB")


def embed(backend: CpuBackend, picture: Image.Image) -> np.ndarray:
    """The face in the picture, on a grey canvas (the portraits are tight crops: the detector needs a margin)."""
    canvas = Image.new("RGB", (300, 300), (128, 128, 128))
    canvas.paste(picture, ((300 - picture.width) // 2, (300 - picture.height) // 2))
    frame = Frame.of(np.asarray(canvas))
    found = backend.detect(frame, min_face_size=32, threshold=0.5)
    assert len(found), "no face found"
    return backend.embed(backend.align(frame, found.select([int(np.argmax(found.scores))])))[0]


@pytest.fixture(scope="module")
def sightings(cpu_backend: CpuBackend, faces: Faces) -> tuple[np.ndarray, np.ndarray]:
    """The unit vectors of every portrait and its variants, and the index of the person each shows."""
    vectors: list[np.ndarray] = []
    people: list[int] = []
    for person, name in enumerate(PEOPLE):
        for number in range(1, 6):
            portrait = Image.open(faces.person(name, number)).convert("RGB")
            rng = np.random.default_rng(100 * person + number)
            for picture in [portrait] + [variant(portrait, rng) for _ in range(VARIANTS)]:
                vectors.append(embed(cpu_backend, picture))
                people.append(person)
    return np.stack(vectors), np.array(people)


def streamed(vectors: np.ndarray, join_similarity: float, order: np.ndarray) -> UnknownClusters:
    clusters = UnknownClusters(vectors.shape[1], join_similarity)
    for sighting in order:
        clusters.add(int(sighting) + 1, vectors[sighting])
    return clusters


def purity_and_fragmentation(clusters: UnknownClusters, people: np.ndarray) -> tuple[float, int]:
    """The share of sightings in a cluster whose majority is their person, and the most clusters a person is in."""
    cluster_of = np.array([clusters.cluster_of(i + 1) for i in range(len(people))])
    in_majority = sum(int(np.bincount(people[cluster_of == c]).max()) for c in np.unique(cluster_of))
    fragments = max(len(np.unique(cluster_of[people == person])) for person in np.unique(people))
    return in_majority / len(people), fragments


def orders(count: int) -> Iterator[tuple[int, np.ndarray]]:
    for seed in range(count):
        yield seed, np.random.default_rng(seed).permutation(len(PEOPLE) * 5 * (1 + VARIANTS))


def test_real_faces_streamed_in_any_order_make_pure_clusters_of_one_or_two_per_person(
    sightings: tuple[np.ndarray, np.ndarray], cpu_backend: CpuBackend
) -> None:
    vectors, people = sightings
    assert len(vectors) == len(PEOPLE) * 5 * (1 + VARIANTS)
    join_similarity = cpu_backend.info.calibration.similarity_at(JOIN_CONFIDENCE)
    for seed, order in orders(SHUFFLES):
        clusters = streamed(vectors, join_similarity, order)
        purity, fragments = purity_and_fragmentation(clusters, people)
        print(f"order {seed}: {len(clusters)} clusters, purity {purity:.3f}, at most {fragments} per person")
        assert purity >= 0.95, (seed, purity)
        assert fragments <= 2, (seed, fragments)
