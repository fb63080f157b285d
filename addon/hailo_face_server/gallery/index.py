"""In-memory matrix of the gallery's embeddings for one model.

Searches read an immutable snapshot; each change builds a new one and swaps
it in, so a search never sees a half-applied change and needs no lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IndexSnapshot:
    vectors: np.ndarray  # N x D float32, rows grouped by identity
    face_ids: np.ndarray  # N int64
    identity_ids: np.ndarray  # N int64, sorted
    group_starts: np.ndarray  # K: first row of each identity
    group_identities: np.ndarray  # K: the identity of each group

    @classmethod
    def build(cls, vectors: np.ndarray, face_ids: np.ndarray, identity_ids: np.ndarray) -> IndexSnapshot:
        order = np.lexsort((face_ids, identity_ids))
        vectors = np.ascontiguousarray(vectors[order], dtype=np.float32)
        face_ids = face_ids[order]
        identity_ids = identity_ids[order]
        if len(identity_ids):
            boundaries = np.flatnonzero(np.diff(identity_ids)) + 1
            group_starts = np.concatenate([[0], boundaries]).astype(np.intp)
        else:
            group_starts = np.zeros(0, dtype=np.intp)
        return cls(vectors, face_ids, identity_ids, group_starts, identity_ids[group_starts])


class EmbeddingIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.names: dict[int, str] = {}
        self._snapshot = IndexSnapshot.build(
            np.zeros((0, dim), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
        )

    @property
    def sample_count(self) -> int:
        return len(self._snapshot.face_ids)

    @property
    def identity_count(self) -> int:
        return len(self._snapshot.group_identities)

    def face_ids(self) -> np.ndarray:
        return self._snapshot.face_ids.copy()

    def load(
        self, vectors: np.ndarray, face_ids: np.ndarray, identity_ids: np.ndarray, names: Mapping[int, str]
    ) -> None:
        self.names = dict(names)
        self._snapshot = IndexSnapshot.build(
            np.asarray(vectors, np.float32).reshape(-1, self.dim),
            np.asarray(face_ids, np.int64),
            np.asarray(identity_ids, np.int64),
        )

    def add(self, face_id: int, identity_id: int, name: str, vector: np.ndarray) -> None:
        current = self._snapshot
        self.names[identity_id] = name
        self._snapshot = IndexSnapshot.build(
            np.vstack([current.vectors, np.asarray(vector, np.float32).reshape(1, self.dim)]),
            np.append(current.face_ids, face_id),
            np.append(current.identity_ids, identity_id),
        )

    def remove_faces(self, face_ids: list[int]) -> None:
        current = self._snapshot
        keep = ~np.isin(current.face_ids, np.asarray(face_ids, np.int64))
        self._snapshot = IndexSnapshot.build(current.vectors[keep], current.face_ids[keep], current.identity_ids[keep])

    def rename(self, identity_id: int, name: str) -> None:
        self.names[identity_id] = name

    def central_faces(self) -> dict[int, int]:
        """For each identity, the sample nearest the mean of its samples: its most typical face (the avatar)."""
        snapshot = self._snapshot
        central: dict[int, int] = {}
        ends = [*snapshot.group_starts[1:], len(snapshot.face_ids)][: len(snapshot.group_starts)]
        for identity_id, start, end in zip(snapshot.group_identities, snapshot.group_starts, ends, strict=True):
            vectors = snapshot.vectors[start:end]
            scores = vectors @ vectors.mean(axis=0)
            central[int(identity_id)] = int(snapshot.face_ids[start + int(np.argmax(scores))])
        return central

    def best_per_identity(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For M query vectors: the K identities and the M x K best cosine similarity to each."""
        snapshot = self._snapshot
        queries = np.asarray(queries, np.float32).reshape(-1, self.dim)
        if len(snapshot.group_starts) == 0:
            return snapshot.group_identities, np.zeros((len(queries), 0), np.float32)
        similarities = queries @ snapshot.vectors.T
        best = np.maximum.reduceat(similarities, snapshot.group_starts, axis=1)
        return snapshot.group_identities, best


# Two products of the same vectors may differ in the last bits (BLAS sums in another
# order for another matrix shape): a negative that is also a sample (rejected for
# Alice, then named Amy) must not outdo that very sample by rounding.
SAME_VECTOR_TOLERANCE = 1e-4


class NegativeIndex:
    """Faces the owner said are not a given identity ("not this person"), for one model.

    Matching refuses an identity for a face that is more similar to one of its
    negatives than to its best sample (the issue's rule), and goes one step
    further: a negative is a face known not to be that person, usually a
    stranger's, so a face more like *any* negative than like an identity's
    best sample is refused that identity too. Otherwise the face of a stranger
    rejected for Alice goes to the next nearest person instead of staying
    unknown (measured at a naming confidence of 0.01: 3 of 9 such images did).
    A negative the owner then named as someone ("this is Bob, not Alice") is
    also Bob's sample, exactly as similar, so it refuses none of Bob's faces.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._snapshot = IndexSnapshot.build(
            np.zeros((0, dim), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
        )

    @property
    def count(self) -> int:
        return len(self._snapshot.face_ids)

    def load(self, negative_ids: np.ndarray, identity_ids: np.ndarray, vectors: np.ndarray) -> None:
        self._snapshot = IndexSnapshot.build(
            np.asarray(vectors, np.float32).reshape(-1, self.dim),
            np.asarray(negative_ids, np.int64),
            np.asarray(identity_ids, np.int64),
        )

    def add(self, negative_id: int, identity_id: int, vector: np.ndarray) -> None:
        current = self._snapshot
        self._snapshot = IndexSnapshot.build(
            np.vstack([current.vectors, np.asarray(vector, np.float32).reshape(1, self.dim)]),
            np.append(current.face_ids, negative_id),
            np.append(current.identity_ids, identity_id),
        )

    def remove(self, negative_ids: list[int] | None = None, identity_id: int | None = None) -> None:
        current = self._snapshot
        keep = np.ones(len(current.face_ids), bool)
        if negative_ids is not None:
            keep &= ~np.isin(current.face_ids, np.asarray(negative_ids, np.int64))
        if identity_id is not None:
            keep &= current.identity_ids != identity_id
        self._snapshot = IndexSnapshot.build(current.vectors[keep], current.face_ids[keep], current.identity_ids[keep])

    def refused(self, queries: np.ndarray, best: np.ndarray) -> np.ndarray:
        """M x K: True where query m is more similar to a negative (of anyone) than to ``best[m, k]``.

        ``best`` holds the M queries' best-sample similarity to each of K identities.
        """
        snapshot = self._snapshot
        if len(snapshot.face_ids) == 0 or best.size == 0:
            return np.zeros(best.shape, bool)
        queries = np.asarray(queries, np.float32).reshape(-1, self.dim)
        nearest_negative = (queries @ snapshot.vectors.T).max(axis=1)
        return np.asarray(nearest_negative[:, None] > best + SAME_VECTOR_TOLERANCE)
