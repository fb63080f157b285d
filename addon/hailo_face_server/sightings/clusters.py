"""Unknown faces grouped as they arrive, so that a person seen many times is reviewed (and named) once.

Each unknown sighting is compared with every clustered one in one
matrix-vector product and either joins the cluster it matches or founds a new
one. A cluster's id is the id of the sighting that founded it; when clusters
merge the smallest id survives, so ids are stable and need no counter. A
sighting that leaves (labelled, dismissed, purged) is dropped by a mask; a
cluster is not split when a member that bridged it leaves: splitting is the
review's job, and a cluster only grows by the rule below.

The linkage: a sighting matches a cluster when its average cosine similarity to
the cluster's members reaches ``join_similarity`` (average linkage; its best
member then reaches it too). It joins the cluster it matches; a sighting that
matches several clusters merges them. Single linkage (the best member alone)
chains two people together through a lookalike or a run of in-between faces:
different people's faces here reach a cosine of 0.924, above the calibrated
0.92, while the same person's other photos go down to 0.885.

Measured with dlib's ResNet embeddings (CPU backend) of the 40 real portraits
(8 people x images 1-5) and 3-12 variants of each (crop a few %, scale 0.6-1.0,
brightness 0.6-1.3, JPEG quality 40-95), 7 sets of 160-520 sightings, each
streamed in 20-40 shuffled orders. Purity is the share of sightings in a
cluster whose majority person is theirs; fragmentation the most clusters one
person's sightings are in. Thresholds as calibrated confidence (the dlib
model's calibration: similarity 0.92 + 0.01 logit(confidence)):

=============================  ===============  ================  =====================
linkage                        threshold        purity (worst)    fragmentation (worst)
=============================  ===============  ================  =====================
single (best member)           0.5 (0.920)      0.63              1
single                         0.7 (0.928)      0.75              1
single                         0.9 (0.942)      1.00              2
single                         0.95 (0.949)     1.00              3 (29 % of the runs)
average (mean over members)    0.5 (0.920)      0.79 (19 % < .95) 3
average                        0.55 (0.922)     0.88              2
average                        0.6 (0.924)      0.975             2
average                        0.7 (0.9285)     0.996             2 (mean 1.66)
average                        0.85 (0.937)     1.00              2 (mean 1.99)
average                        0.9 (0.942)      1.00              3 (9 % of the runs)
best 0.92, centroid cosine     0.94 / 0.945     0.88 / 1.00       2 / 2
at least k members reach 0.92  k = 2, 3         0.63              1
=============================  ===============  ================  =====================

Average linkage meets both requirements (purity >= 95 %, at most 2 clusters a
person) over the widest band, confidence 0.6-0.85; single linkage only near
0.9. ``JOIN_CONFIDENCE`` 0.7 sits inside the band, towards fragmenting:
merging two clusters that a review finds to be one person is easy, splitting
an impure one is not. The test's 240 sightings (tests/server/test_clusters.py,
5 variant sets x 20 orders) through this class: at 0.7 purity >= 0.996, at
most 2 clusters a person (mean 1.73), 8.7 clusters on average.

Cost: one N x dim product and a few passes over N per added sighting (0.4 ms at
10,000 x 128, 1 ms at 50,000 x 128; 20 ms at 50,000 x 512, where the 100 MB of
vectors are read from memory).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

# The calibrated confidence that a sighting is the same person as a cluster's members, on average,
# for it to join: callers pass ``calibration.similarity_at(JOIN_CONFIDENCE)`` as ``join_similarity``.
JOIN_CONFIDENCE = 0.7
_INITIAL_CAPACITY = 64


@dataclass(frozen=True)
class ClusterChange:
    cluster_id: int  # the cluster the new sighting is now in
    merged: tuple[int, ...]  # cluster ids that were absorbed into cluster_id (they no longer exist)


class UnknownClusters:
    """Unknown sightings' unit vectors and the cluster each is in, as numpy arrays.

    Rows are kept in buffers that grow by doubling, so adding a sighting costs
    one matrix-vector product over the members and no copy of them. Not
    thread-safe: one owner changes and reads it.
    """

    def __init__(self, dim: int, join_similarity: float) -> None:
        self.dim = dim
        self.join_similarity = join_similarity
        self._size = 0
        self._vectors = np.zeros((_INITIAL_CAPACITY, dim), np.float32)
        self._sighting_ids = np.zeros(_INITIAL_CAPACITY, np.int64)
        self._cluster_ids = np.zeros(_INITIAL_CAPACITY, np.int64)

    def load(self, sighting_ids: np.ndarray, cluster_ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the state with stored sightings, their clusters and unit vectors (at start-up)."""
        sightings = np.asarray(sighting_ids, np.int64).reshape(-1)
        clusters = np.asarray(cluster_ids, np.int64).reshape(-1)
        rows = np.asarray(vectors, np.float32).reshape(-1, self.dim)
        if not len(sightings) == len(clusters) == len(rows):
            raise ValueError(f"{len(sightings)} sighting ids, {len(clusters)} cluster ids and {len(rows)} vectors")
        if len(np.unique(sightings)) != len(sightings):
            raise ValueError("a sighting id appears twice")
        capacity = max(_INITIAL_CAPACITY, 2 * len(sightings))
        self._vectors = np.zeros((capacity, self.dim), np.float32)
        self._sighting_ids = np.zeros(capacity, np.int64)
        self._cluster_ids = np.zeros(capacity, np.int64)
        self._size = len(sightings)
        self._vectors[: self._size] = rows
        self._sighting_ids[: self._size] = sightings
        self._cluster_ids[: self._size] = clusters

    def add(self, sighting_id: int, vector: np.ndarray) -> ClusterChange:
        """Cluster a new sighting (a unit vector): join the cluster it matches, merge those it matches, or found one."""
        vector = np.asarray(vector, np.float32).reshape(self.dim)
        sightings, clusters = self._sighting_ids[: self._size], self._cluster_ids[: self._size]
        if np.any(sightings == sighting_id):
            raise ValueError(f"sighting {sighting_id} is clustered already")
        matched = self._matching_clusters(vector)
        if np.any(clusters == sighting_id):
            # A founder that left (named, then the name rejected) and comes back rejoins the cluster
            # named after it: an id names one cluster, and it was that cluster's first face.
            matched = np.union1d(matched, [sighting_id])
        if len(matched):
            cluster_id = int(matched[0])  # np.unique sorts: the smallest id survives
            merged = matched[1:]
            if len(merged):
                clusters[np.isin(clusters, merged)] = cluster_id
        else:
            cluster_id, merged = sighting_id, matched
        self._append(sighting_id, cluster_id, vector)
        return ClusterChange(cluster_id, tuple(int(c) for c in merged))

    def remove(self, sighting_ids: Iterable[int]) -> None:
        """Drop sightings (labelled, dismissed or purged) from their clusters; a cluster left empty disappears."""
        leaving = np.fromiter(sighting_ids, np.int64)
        if not len(leaving) or not self._size:
            return
        keep = ~np.isin(self._sighting_ids[: self._size], leaving)
        kept = int(keep.sum())
        # Boolean indexing copies, so writing the kept rows back over the buffers' heads is safe.
        self._vectors[:kept] = self._vectors[: self._size][keep]
        self._sighting_ids[:kept] = self._sighting_ids[: self._size][keep]
        self._cluster_ids[:kept] = self._cluster_ids[: self._size][keep]
        self._size = kept

    def members(self, cluster_id: int) -> np.ndarray:
        """The cluster's sighting ids (int64, ascending); empty if there is no such cluster."""
        sightings = self._sighting_ids[: self._size]
        return np.sort(sightings[self._cluster_ids[: self._size] == cluster_id])

    def cluster_of(self, sighting_id: int) -> int | None:
        rows = np.flatnonzero(self._sighting_ids[: self._size] == sighting_id)
        return int(self._cluster_ids[rows[0]]) if len(rows) else None

    def sizes(self) -> dict[int, int]:
        """Each cluster's number of sightings."""
        ids, counts = np.unique(self._cluster_ids[: self._size], return_counts=True)
        return {int(cluster): int(count) for cluster, count in zip(ids, counts, strict=True)}

    def __len__(self) -> int:
        """The number of clusters."""
        return len(np.unique(self._cluster_ids[: self._size]))

    def _matching_clusters(self, vector: np.ndarray) -> np.ndarray:
        """The ids (ascending) of the clusters whose members' mean similarity to ``vector`` reaches the threshold."""
        if not self._size:
            return np.zeros(0, np.int64)
        similarities = self._vectors[: self._size] @ vector
        clusters = self._cluster_ids[: self._size]
        # A cluster's mean reaches the threshold only if one of its members does: only those clusters are averaged.
        candidates: np.ndarray = np.unique(clusters[similarities >= self.join_similarity])
        if len(candidates) <= 1:  # the usual case, without the grouping below (a sighting runs it as it is stored)
            if len(candidates) and similarities[clusters == candidates[0]].mean() < self.join_similarity:
                return candidates[:0]
            return candidates
        in_candidates = np.isin(clusters, candidates)
        ids, group = np.unique(clusters[in_candidates], return_inverse=True)
        means = np.bincount(group, weights=similarities[in_candidates]) / np.bincount(group)
        matched: np.ndarray = ids[means >= self.join_similarity]
        return matched

    def _append(self, sighting_id: int, cluster_id: int, vector: np.ndarray) -> None:
        if self._size == len(self._sighting_ids):
            capacity = 2 * len(self._sighting_ids)
            self._vectors = _grown(self._vectors, capacity)
            self._sighting_ids = _grown(self._sighting_ids, capacity)
            self._cluster_ids = _grown(self._cluster_ids, capacity)
        self._vectors[self._size] = vector
        self._sighting_ids[self._size] = sighting_id
        self._cluster_ids[self._size] = cluster_id
        self._size += 1


def _grown(array: np.ndarray, capacity: int) -> np.ndarray:
    grown: np.ndarray = np.zeros((capacity, *array.shape[1:]), array.dtype)
    grown[: len(array)] = array
    return grown
