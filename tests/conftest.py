"""Fixtures shared by the server and the Home Assistant tests."""

from __future__ import annotations

import pytest

from tests.support import FACES_DIR, Faces


@pytest.fixture(scope="session")
def faces() -> Faces:
    assert FACES_DIR.is_dir(), f"the test photographs are missing: {FACES_DIR} (see shared/faces/README.md)"
    return Faces(FACES_DIR)
