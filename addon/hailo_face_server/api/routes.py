"""Route handlers: parse the request, call the service, shape the answer."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import voluptuous as vol
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from hailo_face_server.api import serialize
from hailo_face_server.api.inputs import (
    ADD_FIELDS,
    DETECT_FIELDS,
    EMBED_FIELDS,
    IMPORT_FIELDS,
    RECOGNIZE_FIELDS,
    RENAME_FIELDS,
    face_id_parameter,
    read_image_request,
    read_json_request,
    threshold_alias,
    validate_fields,
)
from hailo_face_server.api.keys import SERVICE
from hailo_face_server.api.openapi import OPENAPI
from hailo_face_server.errors import PayloadTooLarge, UnsupportedMediaType
from hailo_face_server.gallery.store import KINDS, PERSON
from hailo_face_server.service import FaceService
from hailo_face_server.validation import one_of

routes = web.RouteTableDef()


def _service(request: web.Request) -> FaceService:
    return request.app[SERVICE]


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    service = _service(request)
    report = serialize.plain(service.health())
    return web.json_response(report, status=200 if service.healthy else 503)


@routes.get("/v1/info")
async def info(request: web.Request) -> web.Response:
    return web.json_response(serialize.plain(_service(request).info()))


# Image routes read the body first (within server.body_timeout) and only then
# take a queue place: a client that sends slowly, or not at all, holds none.


@routes.post("/v1/detect")
async def detect(request: web.Request) -> web.Response:
    received = await read_image_request(request)
    fields = threshold_alias(validate_fields(DETECT_FIELDS, received.fields), "detection_threshold")
    fields["threshold"] = fields.pop("detection_threshold", None)
    with _service(request).admitted() as slot:
        result = await _service(request).images.detect(received.image, slot=slot, **fields)
    faces = [serialize.detected_face(result.detections, i, landmarks=True) for i in range(len(result.detections))]
    return web.json_response(
        {"width": result.width, "height": result.height, "faces": faces, "timings_ms": result.timings.stages_ms}
    )


@routes.post("/v1/embed")
async def embed(request: web.Request) -> web.Response:
    service = _service(request)
    received = await read_image_request(request)
    fields = validate_fields(EMBED_FIELDS, received.fields)
    with service.admitted() as slot:
        result = await service.images.embed(received.image, slot=slot, **fields)
    assert result.embeddings is not None
    info = service.info()
    faces = [
        {**serialize.detected_face(result.detections, i), "embedding": serialize.embedding(result.embeddings[i])}
        for i in range(len(result.detections))
    ]
    return web.json_response(
        {
            "model": info.model_id,
            "dim": info.embedding_dim,
            "width": result.width,
            "height": result.height,
            "faces": faces,
            "timings_ms": result.timings.stages_ms,
        }
    )


@routes.post("/v1/recognize")
async def recognize(request: web.Request) -> web.Response:
    received = await read_image_request(request)
    fields = threshold_alias(validate_fields(RECOGNIZE_FIELDS, received.fields), "recognition_threshold")
    fields["threshold"] = fields.pop("recognition_threshold", None)
    with _service(request).admitted() as slot:
        result = await _service(request).images.recognize(received.image, slot=slot, **fields)
    assert result.matches is not None
    sightings = result.sighting_ids
    faces = [
        serialize.recognized_face(result.detections, i, m, sightings[i] if sightings else None)
        for i, m in enumerate(result.matches)
    ]
    return web.json_response(
        {"width": result.width, "height": result.height, "faces": faces, "timings_ms": result.timings.stages_ms}
    )


@routes.post("/v1/database/add")
async def add_face(request: web.Request) -> web.Response:
    received = await read_image_request(request)
    fields = validate_fields(ADD_FIELDS, received.fields)
    with _service(request).admitted() as slot:
        result = await _service(request).images.add_face(
            fields["name"],
            received.image,
            slot=slot,
            bbox=fields.get("bbox"),
            pick_largest=fields.get("pick") == "largest",
            min_face_size=fields.get("min_face_size"),
        )
    return web.json_response(
        {
            "identity": serialize.identity(result.added.identity),
            "face_id": result.added.face_id,
            "created": result.added.created_identity,
            "face": serialize.detected_face(result.face.detections, 0),
            "timings_ms": result.face.timings.stages_ms,
        },
        status=201,
    )


LIST_FIELDS = vol.Schema({vol.Optional("kind", default=PERSON): one_of((*KINDS, "all"))})


@routes.get("/v1/database/list")
async def list_identities(request: web.Request) -> web.Response:
    service = _service(request)
    kind = validate_fields(LIST_FIELDS, dict(request.query))["kind"]
    identities = await service.people.identities(None if kind == "all" else kind)
    model_id = service.info().model_id
    return web.json_response(
        {
            "identities": [serialize.identity_with_samples(details, model_id) for details in identities],
            "total": len(identities),
        }
    )


@routes.delete("/v1/database/{name}")
async def delete_identity(request: web.Request) -> web.Response:
    record = await _service(request).people.delete_identity(request.match_info["name"])
    return web.json_response({"deleted": serialize.identity(record)})


@routes.patch("/v1/database/{name}")
async def rename_identity(request: web.Request) -> web.Response:
    fields = validate_fields(RENAME_FIELDS, await read_json_request(request))
    record = await _service(request).people.rename(request.match_info["name"], fields["name"])
    return web.json_response({"identity": serialize.identity(record)})


@routes.delete("/v1/database/{name}/faces/{face_id}")
async def delete_face(request: web.Request) -> web.Response:
    face_id = face_id_parameter(request.match_info["face_id"])
    record = await _service(request).people.delete_face(request.match_info["name"], face_id)
    return web.json_response({"deleted_face_id": face_id, "identity": serialize.identity(record)})


@routes.get("/v1/database/{name}/faces/{face_id}/image")
async def face_image(request: web.Request) -> web.Response:
    face_id = face_id_parameter(request.match_info["face_id"])
    jpeg = await _service(request).people.face_image(request.match_info["name"], face_id)
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


EXPORT_TYPE = "application/vnd.sqlite3"
IMPORT_TYPES = frozenset({EXPORT_TYPE, "application/octet-stream", "application/x-sqlite3"})


EXPORT_CHUNK = 1 << 20


@routes.get("/v1/database/export")
async def export_gallery(request: web.Request) -> web.StreamResponse:
    """The gallery file, streamed from a temporary copy (never whole in memory)."""
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="hailo-face-export-") as folder:
        target = Path(folder) / "gallery.db"
        await _service(request).people.export(target)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        response = web.StreamResponse(
            headers={
                "Content-Type": EXPORT_TYPE,
                "Content-Disposition": f'attachment; filename="hailo-face-gallery-{stamp}.db"',
            }
        )
        response.content_length = target.stat().st_size
        await response.prepare(request)
        with target.open("rb") as file:
            while chunk := await loop.run_in_executor(None, file.read, EXPORT_CHUNK):
                await response.write(chunk)
        await response.write_eof()
    return response


@routes.post("/v1/database/import")
async def import_gallery(request: web.Request) -> web.Response:
    service = _service(request)
    people = service.people
    fields = validate_fields(IMPORT_FIELDS, dict(request.query))
    if request.content_type not in IMPORT_TYPES:
        raise UnsupportedMediaType(f"Send the exported file as {EXPORT_TYPE} (or application/octet-stream).")
    limit = int(service.config.server.max_import_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="hailo-face-import-") as folder:
        source = Path(folder) / "incoming.db"
        size = 0
        with source.open("wb") as file:
            async for chunk in request.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The file is larger than server.max_import_mb ({limit // 2**20} MB).")
                file.write(chunk)
        summary = await people.import_file(source, replace=fields["mode"] == "replace")
    if people.stats().faces_pending:
        service.start_reembedding()
    return web.json_response(
        {
            "mode": fields["mode"],
            "identities_created": summary.identities_created,
            "faces": summary.faces,
            "embeddings": summary.embeddings,
            "embeddings_dropped": summary.embeddings_dropped,
        }
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    service = _service(request)
    if service.ready:
        service.people.stats()  # refreshes the gallery gauges
    return web.Response(body=service.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)
