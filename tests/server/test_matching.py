"""Confidence calibration and one name per person per image."""

from __future__ import annotations

import numpy as np
import pytest

from hailo_face_server.matching import SimilarityCalibration, assign_identities

CALIBRATION = SimilarityCalibration(centre=0.5, width=0.05)
IDS = np.array([10, 20, 30])
NAMES = {10: "alice", 20: "bob", 30: "carol"}


def test_confidence_is_half_at_the_centre_and_monotonic() -> None:
    values = CALIBRATION.confidence(np.array([0.2, 0.5, 0.8]))
    assert values[1] == pytest.approx(0.5)
    assert values[0] < 0.01 < values[1] < 0.99 < values[2]
    assert CALIBRATION.similarity_at(0.5) == pytest.approx(0.5)
    assert CALIBRATION.confidence(np.array(CALIBRATION.similarity_at(0.9))) == pytest.approx(0.9)


def test_each_face_gets_its_best_identity_above_threshold() -> None:
    similarities = np.array([[0.9, 0.1, 0.2], [0.1, 0.2, 0.8], [0.3, 0.45, 0.2]])
    matches = assign_identities(similarities, IDS, NAMES, CALIBRATION, 0.5)
    assert [m.name for m in matches] == ["alice", "carol", None]
    assert [m.identity_id for m in matches] == [10, 30, None]
    assert matches[2].similarity == pytest.approx(0.45)
    assert matches[2].confidence < 0.5


def test_a_person_is_named_once_per_image() -> None:
    # Both faces look most like alice; the closer one keeps her, the other takes its next candidate.
    similarities = np.array([[0.9, 0.7, 0.1], [0.8, 0.2, 0.1]])
    matches = assign_identities(similarities, IDS, NAMES, CALIBRATION, 0.5)
    assert [m.name for m in matches] == ["alice", None]
    similarities = np.array([[0.8, 0.1, 0.1], [0.9, 0.7, 0.1]])
    matches = assign_identities(similarities, IDS, NAMES, CALIBRATION, 0.5)
    assert [m.name for m in matches] == [None, "alice"]
    similarities = np.array([[0.8, 0.7, 0.1], [0.9, 0.1, 0.1]])
    assert [m.name for m in assign_identities(similarities, IDS, NAMES, CALIBRATION, 0.5)] == ["bob", "alice"]


def test_an_empty_gallery_names_nobody() -> None:
    matches = assign_identities(np.zeros((2, 0)), np.zeros(0, np.int64), {}, CALIBRATION, 0.5)
    assert [(m.name, m.similarity) for m in matches] == [(None, 0.0), (None, 0.0)]
