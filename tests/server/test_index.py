"""The in-memory index agrees with a plain Python scan and follows every change."""

from __future__ import annotations

import numpy as np

from hailo_face_server.gallery.index import EmbeddingIndex, NegativeIndex


def unit_rows(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    rows = rng.standard_normal((count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def python_scan(queries: np.ndarray, vectors: np.ndarray, identity_ids: np.ndarray) -> dict[int, list[float]]:
    best: dict[int, list[float]] = {}
    for vector, identity in zip(vectors, identity_ids, strict=True):
        scores = [float(np.dot(q, vector)) for q in queries]
        current = best.get(int(identity))
        best[int(identity)] = scores if current is None else [max(a, b) for a, b in zip(current, scores, strict=True)]
    return best


def test_best_per_identity_matches_a_linear_scan() -> None:
    rng = np.random.default_rng(7)
    vectors = unit_rows(rng, 200, 64)
    identity_ids = rng.integers(1, 30, 200)
    index = EmbeddingIndex(64)
    index.load(vectors, np.arange(200), identity_ids, {int(i): f"p{i}" for i in identity_ids})
    queries = unit_rows(rng, 3, 64)
    identities, best = index.best_per_identity(queries)
    expected = python_scan(queries, vectors, identity_ids)
    assert sorted(identities.tolist()) == sorted(expected)
    for column, identity in enumerate(identities):
        assert np.allclose(best[:, column], expected[int(identity)], atol=1e-5)


def test_changes_are_followed() -> None:
    rng = np.random.default_rng(3)
    a, b, c = unit_rows(rng, 3, 8)
    index = EmbeddingIndex(8)
    assert index.best_per_identity(a[None])[1].shape == (1, 0)
    index.add(1, 100, "alice", a)
    index.add(2, 200, "bob", b)
    index.add(3, 100, "alice", c)
    assert (index.sample_count, index.identity_count) == (3, 2)
    identities, best = index.best_per_identity(c[None])
    assert abs(best[0, list(identities).index(100)] - 1) < 1e-6
    index.remove_faces([3])
    identities, best = index.best_per_identity(c[None])
    assert abs(best[0, list(identities).index(100)] - float(np.dot(a, c))) < 1e-6
    index.remove_faces([1])
    assert index.best_per_identity(a[None])[0].tolist() == [200]
    index.rename(200, "robert")
    assert index.names[200] == "robert"
    assert sorted(index.face_ids().tolist()) == [2]


def test_the_central_face_is_the_one_nearest_the_mean() -> None:
    rng = np.random.default_rng(3)
    index = EmbeddingIndex(16)
    assert index.central_faces() == {}
    base = unit_rows(rng, 1, 16)[0]
    # Identity 1: three faces around `base`, face 11 nearest it; identity 2: one face.
    near = base + 0.05 * unit_rows(rng, 1, 16)[0]
    far = [base + 0.6 * unit_rows(rng, 1, 16)[0] for _ in range(2)]
    vectors = np.stack([v / np.linalg.norm(v) for v in (far[0], near, far[1])] + [unit_rows(rng, 1, 16)[0]])
    index.load(vectors, np.array([10, 11, 12, 20]), np.array([1, 1, 1, 2]), {1: "a", 2: "b"})
    assert index.central_faces() == {1: 11, 2: 20}


def test_a_negative_that_is_also_a_sample_does_not_refuse_it_by_rounding() -> None:
    """Rejected for one person, named as another: the two similarities are equal but for rounding."""
    rng = np.random.default_rng(5)
    face = unit_rows(rng, 1, 32)
    negatives = NegativeIndex(32)
    negatives.add(1, identity_id=7, vector=face[0])
    exact = float((face @ face.T)[0, 0])
    for rounding in (0.0, 1e-7, 3e-6):
        assert not negatives.refused(face, np.array([[exact - rounding]], np.float32)).any()
    # A face truly more like the negative than like the identity's best sample is refused.
    assert negatives.refused(face, np.array([[exact - 0.01]], np.float32)).all()
