"""The one error a part (runtime, detector, embedder, backend) raises when it cannot start here."""

from __future__ import annotations


class BackendUnavailable(Exception):
    """The backend cannot start here; the message says why and what to do, the code what kind of problem."""

    def __init__(self, message: str, code: str = "unavailable") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
