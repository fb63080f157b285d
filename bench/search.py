"""Gallery search: our matrix index against the seed's linear Python scan, same galleries, same queries."""

from __future__ import annotations

import functools
import statistics
import time
from typing import Any

import numpy as np

from hailo_face_server.gallery.index import EmbeddingIndex
from hailo_face_server.matching import SimilarityCalibration, assign_identities

SAMPLES_PER_PERSON = 5
CALIBRATION = SimilarityCalibration(centre=0.45, width=0.05)


def synthetic_gallery(size: int, dim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors standing in for embeddings (a search's cost does not depend on their values)."""
    vectors = rng.standard_normal((size, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, np.arange(size) // SAMPLES_PER_PERSON


def linear_scan(query: np.ndarray, vectors: np.ndarray, identity_ids: np.ndarray) -> tuple[int, float]:
    """The seed's search: every stored embedding in a Python loop, cosine similarity, best kept."""
    best_identity, best_similarity = -1, -1.0
    query_norm = float(np.linalg.norm(query))
    for identity, vector in zip(identity_ids, vectors, strict=True):
        similarity = float(np.dot(query, vector) / (query_norm * np.linalg.norm(vector)))
        if similarity > best_similarity:
            best_identity, best_similarity = int(identity), similarity
    return best_identity, best_similarity


def _search(index: EmbeddingIndex, query: np.ndarray) -> None:
    ids, similarities = index.best_per_identity(query[None])
    assign_identities(similarities, ids, index.names, CALIBRATION, 0.5)


def _linear_scan_query(query: np.ndarray, *, vectors: np.ndarray, identity_ids: np.ndarray) -> None:
    linear_scan(query, vectors, identity_ids)


def _per_query(fn: Any, queries: np.ndarray) -> float:
    times = []
    for query in queries:
        start = time.perf_counter()
        fn(query)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(sizes: tuple[int, ...], dims: tuple[int, ...], queries: int, baseline_queries: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    rows = []
    for dim in dims:
        for size in sizes:
            vectors, identity_ids = synthetic_gallery(size, dim, rng)
            index = EmbeddingIndex(dim)
            index.load(vectors, np.arange(size), identity_ids, {int(i): f"person {i}" for i in np.unique(identity_ids)})
            probes = vectors[rng.integers(0, size, queries)] + 0.05 * rng.standard_normal((queries, dim)).astype(
                np.float32
            )

            ours_ms = _per_query(functools.partial(_search, index), probes)
            baseline_ms = _per_query(
                functools.partial(_linear_scan_query, vectors=vectors, identity_ids=identity_ids),
                probes[:baseline_queries],
            )
            assert linear_scan(probes[0], vectors, identity_ids)[0] == int(
                index.best_per_identity(probes[0][None])[0][np.argmax(index.best_per_identity(probes[0][None])[1])]
            )
            rows.append(
                {
                    "dim": dim,
                    "gallery": size,
                    "ours_ms": round(ours_ms, 3),
                    "linear_scan_ms": round(baseline_ms, 2),
                    "ratio": round(ours_ms / baseline_ms, 4),
                }
            )
    return rows
