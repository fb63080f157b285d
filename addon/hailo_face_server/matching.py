"""From cosine similarities to names: calibration and one-name-per-image assignment."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SimilarityCalibration:
    """Maps a model's cosine similarity to a confidence in 0..1.

    ``centre`` is the similarity at which two faces are as likely the same
    person as not (confidence 0.5); ``width`` is how fast confidence rises.
    """

    centre: float
    width: float

    def confidence(self, similarity: np.ndarray) -> np.ndarray:
        exponent = np.clip(-(np.asarray(similarity, dtype=np.float64) - self.centre) / self.width, -50, 50)
        return 1.0 / (1.0 + np.exp(exponent))

    def similarity_at(self, confidence: float) -> float:
        clipped = min(max(confidence, 1e-9), 1 - 1e-9)
        return self.centre + self.width * math.log(clipped / (1 - clipped))


@dataclass(frozen=True)
class Match:
    identity_id: int | None
    name: str | None
    similarity: float
    confidence: float
    ignored: bool = False  # the identity is an ignored face (a poster, a TV): not a person, not unknown

    @property
    def outcome(self) -> str:
        if self.identity_id is None:
            return "unknown"
        return "ignored" if self.ignored else "named"


def assign_identities(
    similarities: np.ndarray,
    identity_ids: np.ndarray,
    names: Mapping[int, str],
    calibration: SimilarityCalibration,
    threshold: float,
    *,
    refused: np.ndarray | None = None,
    ignored: frozenset[int] | set[int] = frozenset(),
) -> list[Match]:
    """Name each face (rows) after an identity (columns) whose confidence reaches threshold.

    A person appears at most once in an image: the most similar face gets the
    name, and the other faces fall back to their next candidate or stay unknown.
    ``refused`` (faces x identities) marks pairs the owner ruled out ("not this
    person"): such a face goes to its next candidate, or stays unknown.
    """
    face_count = similarities.shape[0]
    if similarities.shape[1] == 0:
        return [Match(None, None, 0.0, 0.0) for _ in range(face_count)]
    if refused is not None and refused.any():
        similarities = np.where(refused, -np.inf, similarities)
    confidences = calibration.confidence(similarities)
    best_similarity = np.maximum(similarities.max(axis=1), -1.0)
    matches: list[Match | None] = [None] * face_count
    open_pairs = np.where(confidences >= threshold, similarities, -np.inf)
    while np.isfinite(open_pairs).any():
        face, column = np.unravel_index(int(np.argmax(open_pairs)), open_pairs.shape)
        identity_id = int(identity_ids[column])
        matches[face] = Match(
            identity_id=identity_id,
            name=names[identity_id],
            similarity=float(similarities[face, column]),
            confidence=float(confidences[face, column]),
            ignored=identity_id in ignored,
        )
        open_pairs[face, :] = -np.inf
        open_pairs[:, column] = -np.inf
    return [
        match
        if match is not None
        else Match(
            None,
            None,
            float(best_similarity[face]),
            float(calibration.confidence(best_similarity[face])),
        )
        for face, match in enumerate(matches)
    ]
