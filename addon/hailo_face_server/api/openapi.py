"""The OpenAPI 3.1 description of the whole HTTP API, served at /openapi.json.

Built from the routes' declarations (``contract.OPERATIONS``: their pydantic
models give the parameters, bodies and responses) and from the status
dataclasses; only the routes with bodies that are not JSON (export, import,
metrics) and this one are described here by hand. Tests check it against the
routes the app really has, and run schemathesis against a running server
with it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema

from hailo_face_server import __version__
from hailo_face_server.api import review_routes
from hailo_face_server.api import routes as image_and_gallery_routes
from hailo_face_server.api.contract import JPEG, OPERATIONS, Operation, path_parameters
from hailo_face_server.api.errors import STATUS_BY_CODE
from hailo_face_server.api.models import ImportResult
from hailo_face_server.status import Health, Info

JSON = "application/json"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
TEMPLATE = "#/components/schemas/{model}"
ROUTE_TABLES = (image_and_gallery_routes.routes, review_routes.routes)  # registered in OPERATIONS on import


def ref(name: str) -> dict[str, str]:
    return {"$ref": TEMPLATE.format(model=name)}


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref("Error")}}}


ERRORS = {
    "400": error_response("Bad JSON, parameter, image or name"),
    "401": error_response("Missing or wrong API key"),
    "403": error_response("From another web site (Origin), or a Host not in server.allowed_hosts"),
    "404": error_response("No such person, sample, sighting or cluster"),
    "408": error_response("The body did not arrive within server.body_timeout"),
    "409": error_response(
        "Conflicts with what is stored: several faces (error.faces lists them), a name taken, "
        "database.max_samples_per_person reached, or nothing to reject"
    ),
    "413": error_response("Body or image too large"),
    "415": error_response("Unsupported content type or image format"),
    "422": error_response("No face (inside the bbox)"),
    "503": {
        "description": "Busy (Retry-After), timed out, starting, or the accelerator failed",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
        "content": {JSON: {"schema": ref("Error")}},
    },
    "507": error_response("The gallery has reached database.max_gallery_mb"),
}
AUTHED = {"401": ERRORS["401"], "403": ERRORS["403"], "503": ERRORS["503"]}
BINARY = {"type": "string", "format": "binary"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(STATUS_BY_CODE)},
                    "message": {"type": "string"},
                },
            }
        },
    },
}


def _collect_schemas() -> None:
    """Every model's JSON schema, inputs as validated and outputs as serialised, under components."""
    inputs = {op.query for op in OPERATIONS if op.query} | {op.body for op in OPERATIONS if op.body}
    outputs = {op.response for op in OPERATIONS if op.response} | {ImportResult}  # import's body is a file
    _, definitions = models_json_schema(
        [(model, "validation") for model in sorted(inputs, key=lambda m: m.__name__)]
        + [(model, "serialization") for model in sorted(outputs, key=lambda m: m.__name__)],
        ref_template=TEMPLATE,
    )
    SCHEMAS.update(definitions.get("$defs", {}))
    for name, adapter in (("Health", TypeAdapter(Health)), ("Info", TypeAdapter(Info))):
        schema = adapter.json_schema(mode="serialization", by_alias=True, ref_template=TEMPLATE)
        SCHEMAS.update(schema.pop("$defs", {}))
        SCHEMAS[name] = schema


def ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(schema)}}}


def _path_parameter(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"} if name == "name" else {"type": "integer", "minimum": 0}
    described = "a person's name" if name == "name" else name.replace("_", " ")
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": described}


def _fields(model: type[Any]) -> tuple[dict[str, Any], list[str]]:
    schema = SCHEMAS[model.__name__]
    return dict(schema.get("properties", {})), list(schema.get("required", []))


def _query_parameters(model: type[Any] | None, *, all_optional: bool = False) -> list[dict[str, Any]]:
    if model is None:
        return []
    properties, required = _fields(model)
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required and not all_optional,
            "schema": {key: value for key, value in field.items() if key not in ("description", "title")},
            "description": field.get("description", ""),
        }
        for name, field in properties.items()
    ]


def _image_body(model: type[Any]) -> dict[str, Any]:
    """An image as JSON (base64), as a raw body, or as a multipart field; parameters beside it."""
    properties, required = _fields(model)
    json_schema = {
        "type": "object",
        "required": ["image", *required],
        "properties": {"image": {"type": "string", "description": "base64 (a data: URI prefix is allowed)"}}
        | properties,
        "additionalProperties": False,
    }
    multipart = {
        "type": "object",
        "required": ["image", *required],
        "properties": {"image": BINARY} | properties,
    }
    content: dict[str, Any] = {JSON: {"schema": json_schema}}
    content.update({kind: {"schema": BINARY} for kind in IMAGE_TYPES})
    content["multipart/form-data"] = {"schema": multipart}
    return {"required": True, "content": content}


def describe(operation: Operation) -> dict[str, Any]:
    if operation.response is None:
        success = {"description": "JPEG", "content": {JPEG: {"schema": BINARY}}}
    else:
        success = ok(operation.summary, operation.response.__name__)
    described: dict[str, Any] = {
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": [_path_parameter(name) for name in path_parameters(operation.path)],
        "responses": {str(operation.status): success}
        | {code: ERRORS.get(code) or error_response(f"HTTP {code}") for code in operation.errors}
        | AUTHED,
    }
    if operation.description:
        described["description"] = operation.description
    if operation.image:
        assert operation.query is not None
        # Parameters go in the JSON object or the form, or in the query string of any form.
        described["parameters"] += _query_parameters(operation.query, all_optional=True)
        described["requestBody"] = _image_body(operation.query)
        return described
    described["parameters"] += _query_parameters(operation.query)
    if operation.body is not None:
        described["requestBody"] = {"required": True, "content": {JSON: {"schema": ref(operation.body.__name__)}}}
        described["responses"].setdefault("400", ERRORS["400"])
        described["responses"].setdefault("415", ERRORS["415"])
    return described


def build() -> dict[str, Any]:
    _collect_schemas()
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "summary": "Readiness and what the server runs",
                "security": [],
                "responses": {"200": ok("Ready", "Health"), "503": ok("Starting, degraded or failed", "Health")},
            }
        },
        "/v1/info": {
            "get": {"summary": "Models, thresholds, limits", "responses": {"200": ok("Info", "Info")} | AUTHED}
        },
        "/openapi.json": {
            "get": {
                "summary": "This description",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}}}
                | AUTHED,
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {"description": "Text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}}
                }
                | AUTHED,
            }
        },
        "/v1/database/export": {
            "get": {
                "summary": "The whole gallery as one SQLite file",
                "tags": ["gallery"],
                "responses": {
                    "200": {"description": "Gallery file", "content": {"application/vnd.sqlite3": {"schema": BINARY}}}
                }
                | AUTHED,
            }
        },
        "/v1/database/import": {
            "post": {
                "summary": "Merge (or replace with) an exported gallery",
                "tags": ["gallery"],
                "parameters": [
                    {
                        "name": "mode",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["merge", "replace"]},
                        "description": "add to the gallery (the default), or replace it",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        kind: {"schema": BINARY} for kind in ("application/vnd.sqlite3", "application/octet-stream")
                    },
                },
                "responses": {
                    "200": ok("Imported", "ImportResult"),
                    **{code: ERRORS[code] for code in ("400", "408", "409", "413", "415", "507")},
                }
                | AUTHED,
            }
        },
    }
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = describe(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hailo Face",
            "version": __version__,
            "description": "Face detection and recognition with a gallery of people, and a memory of the faces "
            "cameras saw. Every route but /health needs `Authorization: Bearer <key>` when the server has an API key.",
        },
        "components": {"schemas": SCHEMAS, "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
        "security": [{"apiKey": []}],
        "paths": paths,
    }


OPENAPI: dict[str, Any] = build()
routes = web.RouteTableDef()


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)
