"""The OpenAPI 3 description of the whole HTTP API, served at /openapi.json.

The routes declared with ``contract.operation`` (sightings, clusters,
negatives) are described from their pydantic models; the older image and
gallery routes below are still described by hand. Tests check the whole
against the routes the app really has, and run schemathesis against a
running server with it.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from hailo_face_server import __version__
from hailo_face_server.api import review_routes  # noqa: F401  (registers its operations)
from hailo_face_server.api.contract import JPEG, OPERATIONS, Operation, path_parameters
from hailo_face_server.api.errors import STATUS_BY_CODE

JSON = "application/json"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref("Error")}}}


ERRORS = {
    "400": error_response("Bad JSON, parameter, image or name"),
    "401": error_response("Missing or wrong API key"),
    "403": error_response("From another web site (Origin), or a Host not in server.allowed_hosts"),
    "408": error_response("The body did not arrive within server.body_timeout"),
    "413": error_response("Body or image too large"),
    "415": error_response("Unsupported content type or image format"),
    "503": {
        "description": "Busy (Retry-After), timed out, starting, or the accelerator failed",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
        "content": {JSON: {"schema": ref("Error")}},
    },
}
AUTHED = {"401": ERRORS["401"], "403": ERRORS["403"], "503": ERRORS["503"]}
GALLERY_FULL = {"507": error_response("The gallery has reached database.max_gallery_mb")}

THRESHOLD = {"type": "number", "minimum": 0, "maximum": 1}
MAX_FACES = {"type": "integer", "minimum": 1, "maximum": 100}
MIN_FACE_SIZE = {"type": "integer", "minimum": 16, "maximum": 4096}
BBOX = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
NUMBER = {"type": "number"}


def query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def image_body(fields: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An image as JSON (base64), as a raw body, or as a multipart field; parameters beside it."""
    json_schema = {
        "type": "object",
        "required": ["image", *required],
        "properties": {"image": {"type": "string", "description": "base64 (a data: URI prefix is allowed)"}, **fields},
        "additionalProperties": False,
    }
    multipart = {
        "type": "object",
        "required": ["image", *required],
        "properties": {"image": {"type": "string", "format": "binary"}, **fields},
    }
    content: dict[str, Any] = {JSON: {"schema": json_schema}}
    content.update({kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES})
    content["multipart/form-data"] = {"schema": multipart}
    return {"required": True, "content": content}


def ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(schema)}}}


DETECTED_FACE: dict[str, Any] = {
    "type": "object",
    "required": ["bbox", "score"],
    "properties": {"bbox": BBOX, "score": NUMBER},
}

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
    "Health": {
        "type": "object",
        "required": ["status", "version", "queue"],
        "properties": {
            "status": {"type": "string", "enum": ["starting", "ok", "degraded", "error"]},
            "version": {"type": "string"},
            "server_id": {"type": ["string", "null"]},
            "queue": {"type": "object", "required": ["depth", "max"]},
            "identities": {"type": "integer"},
            "faces": {"type": "integer"},
            "faces_pending": {"type": "integer"},
            "sightings": {
                "type": "object",
                "description": "Faces kept from cameras (absent when sightings are off)",
                "required": ["enabled", "stored", "unknown_clusters", "bytes"],
            },
            "fallback": {
                "type": "object",
                "description": "Why the backend in use is not the one preferred (e.g. code device_busy: "
                "another program holds the Hailo)",
                "required": ["from", "code", "reason"],
                "properties": {"from": {"type": "string"}, "code": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
    "Info": {
        "type": "object",
        "required": [
            "server_id",
            "version",
            "backend",
            "model_id",
            "embedding_dim",
            "recognition_threshold",
            "limits",
            "sightings",
        ],
        "properties": {
            "embedding_dim": {"type": "integer"},
            "recognition_threshold": NUMBER,
            "sightings": {"type": "boolean", "description": "whether faces seen with a source are kept"},
        },
    },
    "DetectResult": {
        "type": "object",
        "required": ["width", "height", "faces", "timings_ms"],
        "properties": {
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "faces": {
                "type": "array",
                "items": {
                    **DETECTED_FACE,
                    "required": ["bbox", "score", "landmarks"],
                    "properties": {
                        **DETECTED_FACE["properties"],
                        "landmarks": {
                            "type": "array",
                            "minItems": 5,
                            "maxItems": 5,
                            "items": BBOX | {"minItems": 2, "maxItems": 2},
                        },
                    },
                },
            },
            "timings_ms": {"type": "object", "additionalProperties": NUMBER},
        },
    },
    "EmbedResult": {
        "type": "object",
        "required": ["model", "dim", "faces"],
        "properties": {
            "model": {"type": "string"},
            "dim": {"type": "integer"},
            "faces": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["bbox", "score", "embedding"],
                    "properties": {**DETECTED_FACE["properties"], "embedding": {"type": "array", "items": NUMBER}},
                },
            },
        },
    },
    "RecognizeResult": {
        "type": "object",
        "required": ["width", "height", "faces", "timings_ms"],
        "properties": {
            "faces": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["bbox", "score", "name", "identity_id", "outcome", "similarity", "confidence"],
                    "properties": {
                        **DETECTED_FACE["properties"],
                        "name": {"type": ["string", "null"], "description": "null when unknown or ignored"},
                        "identity_id": {"type": ["integer", "null"]},
                        "outcome": {"type": "string", "enum": ["named", "unknown", "ignored"]},
                        "sighting_id": {
                            "type": "integer",
                            "description": "the sighting kept for this face (only with a source, sightings on)",
                        },
                        "similarity": NUMBER,
                        "confidence": THRESHOLD,
                    },
                },
            }
        },
    },
    "Identity": {
        "type": "object",
        "required": ["id", "name", "kind", "faces", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["person", "ignored"]},
            "faces": {"type": "integer"},
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "samples": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "model", "usable", "created_at"],
                    "properties": {
                        "id": {"type": "integer"},
                        "model": {"type": "string"},
                        "usable": {"type": "boolean"},
                    },
                },
            },
        },
    },
    "AddResult": {
        "type": "object",
        "required": ["identity", "face_id", "created", "face"],
        "properties": {
            "identity": ref("Identity"),
            "face_id": {"type": "integer"},
            "created": {"type": "boolean"},
            "face": DETECTED_FACE,
        },
    },
    "ImportResult": {
        "type": "object",
        "required": ["mode", "identities_created", "faces", "embeddings", "embeddings_dropped"],
        "properties": {
            "mode": {"type": "string", "enum": ["merge", "replace"]},
            "embeddings_dropped": {"type": "integer", "description": "of models this server does not know"},
        },
    },
}

NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}, "description": "a person's name"}
FACE_ID = {"name": "face_id", "in": "path", "required": True, "schema": {"type": "integer"}}
DETECT_PARAMETERS = {
    "detection_threshold": (THRESHOLD, "detection score a face needs"),
    "threshold": (THRESHOLD, "old name of detection_threshold"),
    "min_face_size": (MIN_FACE_SIZE, "smallest face looked for, in pixels"),
    "max_faces": (MAX_FACES, "the largest faces kept"),
}


def fields_and_query(spec: dict[str, tuple[dict[str, Any], str]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fields = {name: schema for name, (schema, _) in spec.items()}
    return fields, [query(name, schema, text) for name, (schema, text) in spec.items()]


def image_operation(
    summary: str,
    parameters: dict[str, tuple[dict[str, Any], str]],
    success: tuple[str, str, str],
    extra_errors: dict[str, Any],
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    fields, query_parameters = fields_and_query(parameters)
    status, description, schema = success
    return {
        "summary": summary,
        "parameters": [p | {"required": False} for p in query_parameters],
        "requestBody": image_body(fields, required),
        "responses": {status: ok(description, schema), **ERRORS, **extra_errors},
    }


NO_FACE = {"422": error_response("No face (inside the bbox)")}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Hailo Face",
        "version": __version__,
        "description": "Face detection and recognition with a gallery of people. Every route but /health needs "
        "`Authorization: Bearer <key>` when the server has an API key.",
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"apiKey": []}],
    "paths": {
        "/health": {
            "get": {
                "summary": "Readiness and what the server runs",
                "security": [],
                "responses": {
                    "200": ok("Ready", "Health"),
                    "503": ok("Starting, degraded or failed", "Health"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This description",
                "responses": {"200": {"description": "OpenAPI 3", "content": {JSON: {"schema": {"type": "object"}}}}}
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
        "/v1/info": {
            "get": {"summary": "Models, thresholds, limits", "responses": {"200": ok("Info", "Info")} | AUTHED}
        },
        "/v1/detect": {"post": image_operation("Find faces", DETECT_PARAMETERS, ("200", "Faces", "DetectResult"), {})},
        "/v1/embed": {
            "post": image_operation(
                "Embeddings of the faces (or of the one in bbox)",
                {
                    "bbox": (BBOX, "[x1, y1, x2, y2]; in the query as x1,y1,x2,y2"),
                    "min_face_size": DETECT_PARAMETERS["min_face_size"],
                    "max_faces": DETECT_PARAMETERS["max_faces"],
                },
                ("200", "Embeddings", "EmbedResult"),
                NO_FACE,
            )
        },
        "/v1/recognize": {
            "post": image_operation(
                "Name the faces",
                {
                    "recognition_threshold": (THRESHOLD, "confidence needed to name a face"),
                    "threshold": (THRESHOLD, "old name of recognition_threshold"),
                    "source": (
                        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
                        "the camera (e.g. camera.front_door): its faces are kept as sightings",
                    ),
                }
                | {k: DETECT_PARAMETERS[k] for k in ("min_face_size", "max_faces")},
                ("200", "Faces with names", "RecognizeResult"),
                {},
            )
        },
        "/v1/database/add": {
            "post": image_operation(
                "Teach a face",
                {
                    "name": ({"type": "string"}, "who"),
                    "bbox": (BBOX, "which face, if several"),
                    "pick": ({"type": "string", "enum": ["largest"]}, "take the largest of several"),
                    "min_face_size": DETECT_PARAMETERS["min_face_size"],
                },
                ("201", "Taught", "AddResult"),
                {
                    "409": error_response(
                        "Several faces (error.faces lists them), or the person has database.max_samples_per_person"
                    ),
                    **NO_FACE,
                    **GALLERY_FULL,
                },
                required=("name",),
            )
        },
        "/v1/database/list": {
            "get": {
                "summary": "Everyone known, with their samples",
                "parameters": [
                    query(
                        "kind",
                        {"type": "string", "enum": ["person", "ignored", "all"]},
                        "people (the default), ignored faces, or both",
                    )
                ],
                "responses": {
                    "400": ERRORS["400"],
                    "200": {
                        "description": "People",
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["identities", "total"],
                                    "properties": {"identities": {"type": "array", "items": ref("Identity")}},
                                }
                            }
                        },
                    },
                }
                | AUTHED,
            }
        },
        "/v1/database/export": {
            "get": {
                "summary": "The whole gallery as one SQLite file",
                "responses": {
                    "200": {
                        "description": "Gallery file",
                        "content": {"application/vnd.sqlite3": {"schema": {"type": "string", "format": "binary"}}},
                    }
                }
                | AUTHED,
            }
        },
        "/v1/database/import": {
            "post": {
                "summary": "Merge (or replace with) an exported gallery",
                "parameters": [query("mode", {"type": "string", "enum": ["merge", "replace"]}, "default merge")],
                "requestBody": {
                    "required": True,
                    "content": {
                        kind: {"schema": {"type": "string", "format": "binary"}}
                        for kind in ("application/vnd.sqlite3", "application/octet-stream")
                    },
                },
                "responses": {
                    "200": ok("Imported", "ImportResult"),
                    "400": ERRORS["400"],
                    "408": ERRORS["408"],
                    "409": error_response("A person would have more than database.max_samples_per_person"),
                    "413": ERRORS["413"],
                    "415": ERRORS["415"],
                    **GALLERY_FULL,
                }
                | AUTHED,
            }
        },
        "/v1/database/{name}": {
            "parameters": [NAME],
            "delete": {
                "summary": "Forget a person",
                "responses": {
                    "200": {
                        "description": "Forgotten",
                        "content": {JSON: {"schema": {"type": "object", "required": ["deleted"]}}},
                    },
                    "404": error_response("Nobody of that name"),
                }
                | AUTHED,
            },
            "patch": {
                "summary": "Rename a person",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {"name": {"type": "string"}},
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Renamed",
                        "content": {JSON: {"schema": {"type": "object", "required": ["identity"]}}},
                    },
                    "400": ERRORS["400"],
                    "404": error_response("Nobody of that name"),
                    "409": error_response("The new name is taken"),
                    "415": ERRORS["415"],
                }
                | AUTHED,
            },
        },
        "/v1/database/{name}/faces/{face_id}": {
            "parameters": [NAME, FACE_ID],
            "delete": {
                "summary": "Remove one face sample",
                "responses": {
                    "200": {
                        "description": "Removed",
                        "content": {JSON: {"schema": {"type": "object", "required": ["identity"]}}},
                    },
                    "400": ERRORS["400"],
                    "404": error_response("No such person or sample"),
                }
                | AUTHED,
            },
        },
        "/v1/database/{name}/faces/{face_id}/image": {
            "parameters": [NAME, FACE_ID],
            "get": {
                "summary": "The stored crop of a sample",
                "responses": {
                    "200": {
                        "description": "JPEG",
                        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "400": ERRORS["400"],
                    "404": error_response("No such person or sample"),
                }
                | AUTHED,
            },
        },
    },
}


# The routes declared with contract.operation, described from their models.

AUTH_ERRORS = ("401", "403", "503")
INPUT_MODELS = {op.query for op in OPERATIONS if op.query} | {op.body for op in OPERATIONS if op.body}
OUTPUT_MODELS = {op.response for op in OPERATIONS if op.response}
_, _DEFINITIONS = models_json_schema(
    [(model, "validation") for model in sorted(INPUT_MODELS, key=lambda m: m.__name__)]
    + [(model, "serialization") for model in sorted(OUTPUT_MODELS, key=lambda m: m.__name__)],
    ref_template="#/components/schemas/{model}",
)
SCHEMAS.update(_DEFINITIONS.get("$defs", {}))


def _path_parameter(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"} if name == "name" else {"type": "integer", "minimum": 0}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(operation: Operation) -> list[dict[str, Any]]:
    if operation.query is None:
        return []
    schema = SCHEMAS[operation.query.__name__]
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {key: value for key, value in field.items() if key not in ("description", "title")},
            "description": field.get("description", ""),
        }
        for name, field in schema["properties"].items()
    ]


def describe(operation: Operation) -> dict[str, Any]:
    if operation.response is None:
        success = {"description": "JPEG", "content": {JPEG: {"schema": {"type": "string", "format": "binary"}}}}
    else:
        success = ok(operation.summary, operation.response.__name__)
    described: dict[str, Any] = {
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": [_path_parameter(name) for name in path_parameters(operation.path)]
        + _query_parameters(operation),
        "responses": {str(operation.status): success}
        | {code: ERRORS.get(code) or error_response(f"HTTP {code}") for code in operation.errors}
        | AUTHED,
    }
    if operation.description:
        described["description"] = operation.description
    if operation.body is not None:
        described["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": ref(operation.body.__name__)}},
        }
        described["responses"].setdefault("415", ERRORS["415"])
        described["responses"].setdefault("400", ERRORS["400"])
    return described


ERRORS.setdefault("404", error_response("Not found"))
ERRORS.setdefault("409", error_response("Conflicts with what is stored (a name taken, nothing to reject)"))
ERRORS.setdefault("507", GALLERY_FULL["507"])
for _operation in OPERATIONS:
    OPENAPI["paths"].setdefault(_operation.path, {})[_operation.method] = describe(_operation)
