"""Errors that reach a client, each with a stable code.

The core raises these; the HTTP layer maps each code to a status.
"""

from __future__ import annotations

from typing import Any


class FaceServiceError(Exception):
    """An error a client caused or can act on."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(FaceServiceError):
    code = "invalid_request"


class InvalidJson(FaceServiceError):
    code = "invalid_json"


class InvalidImage(FaceServiceError):
    code = "invalid_image"


class InvalidName(FaceServiceError):
    code = "invalid_name"


class InvalidImport(FaceServiceError):
    code = "invalid_import"


class UnsupportedMediaType(FaceServiceError):
    code = "unsupported_media_type"


class UnsupportedEncoding(UnsupportedMediaType):
    code = "unsupported_encoding"


class BodyTimeout(FaceServiceError):
    """The client did not send its request body in time."""

    code = "body_timeout"


class ForbiddenOrigin(FaceServiceError):
    code = "forbidden_origin"


class PayloadTooLarge(FaceServiceError):
    code = "payload_too_large"


class ImageTooLarge(FaceServiceError):
    code = "image_too_large"


class NoFace(FaceServiceError):
    code = "no_face"


class MultipleFaces(FaceServiceError):
    code = "multiple_faces"


class NotFound(FaceServiceError):
    code = "not_found"


class NameTaken(FaceServiceError):
    code = "name_taken"


class ServerBusy(FaceServiceError):
    code = "server_busy"

    def __init__(self, message: str, retry_after: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class RequestTimeout(ServerBusy):
    code = "timeout"


class NotReady(FaceServiceError):
    code = "not_ready"


class BackendError(FaceServiceError):
    """The accelerator failed; the server needs a restart."""

    code = "backend_error"


class BackendTimeout(BackendError):
    """The accelerator did not answer in time; the server needs a restart."""


class SightingsOff(FaceServiceError):
    """The server keeps no sightings (sightings.enabled is off)."""

    code = "sightings_off"


class NotNamed(FaceServiceError):
    """ "Not this person" was asked of a sighting that names nobody."""

    code = "not_named"
