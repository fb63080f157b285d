"""JSON error responses: ``{"error": {"code", "message", ...}}`` with a fitting status."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hailo_face_server.errors import FaceServiceError, ServerBusy

STATUS_BY_CODE = {
    "invalid_request": 400,
    "invalid_json": 400,
    "invalid_base64": 400,
    "invalid_image": 400,
    "invalid_name": 400,
    "invalid_import": 400,
    "unauthorized": 401,
    "forbidden_origin": 403,
    "forbidden_host": 403,
    "body_timeout": 408,
    "not_found": 404,
    "method_not_allowed": 405,
    "multiple_faces": 409,
    "too_many_samples": 409,
    "name_taken": 409,
    "payload_too_large": 413,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "unsupported_encoding": 415,
    "no_face": 422,
    "not_named": 409,
    "sightings_off": 404,
    "internal_error": 500,
    "gallery_full": 507,
    "server_busy": 503,
    "too_many_attempts": 429,
    "timeout": 503,
    "not_ready": 503,
    "backend_error": 503,
}

CODE_BY_HTTP_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(code: str, message: str, *, headers: dict[str, str] | None = None, **details: Any) -> web.Response:
    body = {"error": {"code": code, "message": message, **details}}
    return web.json_response(body, status=STATUS_BY_CODE.get(code, 400), headers=headers)


def service_error_response(error: FaceServiceError) -> web.Response:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, ServerBusy) else None
    return error_response(error.code, error.message, headers=headers, **error.details)


def http_error_response(error: web.HTTPException) -> web.Response:
    code = CODE_BY_HTTP_STATUS.get(error.status, "invalid_request")
    messages = {
        "not_found": "There is no such endpoint.",
        "method_not_allowed": f"{error.reason}: this endpoint does not take that method.",
        "payload_too_large": "The request body is larger than the server accepts (server.max_body_mb).",
    }
    response = error_response(code, messages.get(code, error.reason))
    response.set_status(error.status)
    if isinstance(error, web.HTTPMethodNotAllowed):
        response.headers["Allow"] = ", ".join(sorted(error.allowed_methods))
    return response
