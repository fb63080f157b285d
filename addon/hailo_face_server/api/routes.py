"""Route handlers of the images and the gallery: parse the request, call the service, shape the answer.

Image routes read the body first (within server.body_timeout) and only then
take a queue place: a client that sends slowly, or not at all, holds none.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import TypeAdapter

from hailo_face_server.api import models as m
from hailo_face_server.api.contract import JPEG, image_operation, operation, parse, path_id
from hailo_face_server.api.inputs import query_of
from hailo_face_server.api.keys import SERVICE
from hailo_face_server.errors import PayloadTooLarge, UnsupportedMediaType
from hailo_face_server.service import FaceService
from hailo_face_server.status import Health, Info

routes = web.RouteTableDef()
HEALTH = TypeAdapter(Health)
INFO = TypeAdapter(Info)


def _service(request: web.Request) -> FaceService:
    return request.app[SERVICE]


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    service = _service(request)
    report = HEALTH.dump_python(service.health(), mode="json", by_alias=True, exclude_none=True)
    return web.json_response(report, status=200 if service.healthy else 503)


@routes.get("/v1/info")
async def info(request: web.Request) -> web.Response:
    return web.json_response(INFO.dump_python(_service(request).info(), mode="json", by_alias=True))


# Images


@image_operation(routes, "/v1/detect", summary="Find faces", params=m.DetectParams, response=m.DetectResult)
async def detect(request: web.Request, image: bytes, params: m.DetectParams) -> m.DetectResult:
    service = _service(request)
    with service.admitted() as slot:
        result = await service.images.detect(
            image,
            slot=slot,
            threshold=params.score_needed,
            min_face_size=params.min_face_size,
            max_faces=params.max_faces,
        )
    found = result.detections
    faces = [
        m.FaceWithLandmarks(
            **m.DetectedFace.at(found, i).model_dump(),
            landmarks=[[round(float(x), 1), round(float(y), 1)] for x, y in found.landmarks[i]],
        )
        for i in range(len(found))
    ]
    return m.DetectResult(width=result.width, height=result.height, faces=faces, timings_ms=result.timings.stages_ms)


@image_operation(
    routes,
    "/v1/embed",
    summary="Embeddings of the faces (or of the one in bbox)",
    params=m.EmbedParams,
    response=m.EmbedResult,
    errors=("400", "408", "413", "415", "422"),
)
async def embed(request: web.Request, image: bytes, params: m.EmbedParams) -> m.EmbedResult:
    service = _service(request)
    with service.admitted() as slot:
        result = await service.images.embed(
            image,
            slot=slot,
            bbox=m.box_array(params.bbox),
            min_face_size=params.min_face_size,
            max_faces=params.max_faces,
        )
    assert result.embeddings is not None
    info = service.info()
    faces = [
        m.EmbeddedFace(
            **m.DetectedFace.at(result.detections, i).model_dump(),
            embedding=[round(float(v), 6) for v in result.embeddings[i]],
        )
        for i in range(len(result.detections))
    ]
    return m.EmbedResult(
        model=info.model_id,
        dim=info.embedding_dim,
        width=result.width,
        height=result.height,
        faces=faces,
        timings_ms=result.timings.stages_ms,
    )


@image_operation(
    routes, "/v1/recognize", summary="Name the faces", params=m.RecognizeParams, response=m.RecognizeResult
)
async def recognize(request: web.Request, image: bytes, params: m.RecognizeParams) -> m.RecognizeResult:
    service = _service(request)
    with service.admitted() as slot:
        result = await service.images.recognize(
            image,
            slot=slot,
            threshold=params.confidence_needed,
            min_face_size=params.min_face_size,
            max_faces=params.max_faces,
            source=params.source,
        )
    assert result.matches is not None
    sightings = result.sighting_ids
    faces = [
        m.RecognizedFace.of(result.detections, i, match, sightings[i] if sightings else None)
        for i, match in enumerate(result.matches)
    ]
    return m.RecognizeResult(width=result.width, height=result.height, faces=faces, timings_ms=result.timings.stages_ms)


@image_operation(
    routes,
    "/v1/database/add",
    summary="Teach a face",
    params=m.AddParams,
    response=m.AddResult,
    status=201,
    errors=("400", "408", "409", "413", "415", "422", "507"),
    tag="gallery",
)
async def add_face(request: web.Request, image: bytes, params: m.AddParams) -> m.AddResult:
    service = _service(request)
    with service.admitted() as slot:
        result = await service.images.add_face(
            params.name,
            image,
            slot=slot,
            bbox=m.box_array(params.bbox),
            pick_largest=params.pick == "largest",
            min_face_size=params.min_face_size,
        )
    return m.AddResult(
        identity=m.IdentityOut.of(result.added.identity),
        face_id=result.added.face_id,
        created=result.added.created_identity,
        face=m.DetectedFace.at(result.face.detections, 0),
        timings_ms=result.face.timings.stages_ms,
    )


# The gallery


@operation(
    routes,
    "GET",
    "/v1/database/list",
    summary="Everyone known, with their samples",
    query=m.ListQuery,
    response=m.IdentityList,
    errors=("400",),
    tag="gallery",
)
async def list_identities(request: web.Request, query: m.ListQuery, _: None) -> m.IdentityList:
    service = _service(request)
    found = await service.people.identities(None if query.kind == "all" else query.kind)
    model_id = service.info().model_id
    avatars = service.people.avatars(found)
    return m.IdentityList(
        identities=[m.IdentityWithSamples.of_details(d, model_id, avatars.get(d.record.id)) for d in found],
        total=len(found),
    )


@operation(
    routes,
    "DELETE",
    "/v1/database/{name}",
    summary="Forget a person: their samples, negatives and sightings",
    response=m.DeletedIdentity,
    errors=("404",),
    tag="gallery",
)
async def delete_identity(request: web.Request, _: None, __: None) -> m.DeletedIdentity:
    record = await _service(request).people.delete_identity(request.match_info["name"])
    return m.DeletedIdentity(deleted=m.IdentityOut.of(record))


@operation(
    routes,
    "PATCH",
    "/v1/database/{name}",
    summary="Rename a person",
    body=m.RenameBody,
    response=m.RenamedIdentity,
    errors=("400", "404", "409", "415"),
    tag="gallery",
)
async def rename_identity(request: web.Request, _: None, body: m.RenameBody) -> m.RenamedIdentity:
    record = await _service(request).people.rename(request.match_info["name"], body.name)
    return m.RenamedIdentity(identity=m.IdentityOut.of(record))


@operation(
    routes,
    "DELETE",
    "/v1/database/{name}/faces/{face_id}",
    summary="Remove one face sample",
    response=m.DeletedFace,
    errors=("404",),
    tag="gallery",
)
async def delete_face(request: web.Request, _: None, __: None) -> m.DeletedFace:
    face_id = path_id(request, "face_id", "face sample")
    record = await _service(request).people.delete_face(request.match_info["name"], face_id)
    return m.DeletedFace(deleted_face_id=face_id, identity=m.IdentityOut.of(record))


@operation(
    routes,
    "GET",
    "/v1/database/{name}/faces/{face_id}/image",
    summary="The stored crop of a sample (JPEG)",
    errors=("404",),
    tag="gallery",
)
async def face_image(request: web.Request, _: None, __: None) -> web.Response:
    face_id = path_id(request, "face_id", "face sample")
    jpeg = await _service(request).people.face_image(request.match_info["name"], face_id)
    return web.Response(body=jpeg, content_type=JPEG, headers={"Cache-Control": "private, max-age=3600"})


EXPORT_TYPE = "application/vnd.sqlite3"
IMPORT_TYPES = frozenset({EXPORT_TYPE, "application/octet-stream", "application/x-sqlite3"})
EXPORT_CHUNK = 1 << 20


@routes.get("/v1/database/export")
async def export_gallery(request: web.Request) -> web.StreamResponse:
    """The gallery file, streamed from a temporary copy (never whole in memory)."""
    loop = asyncio.get_running_loop()
    people = _service(request).people
    with tempfile.TemporaryDirectory(prefix="hailo-face-export-") as folder:
        target = Path(folder) / "gallery.db"
        await people.export(target)
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
    query = parse(m.ImportQuery, query_of(request))
    assert isinstance(query, m.ImportQuery)
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
        summary = await people.import_file(source, replace=query.mode == "replace")
    if people.stats().faces_pending:
        service.start_reembedding()
    return web.json_response(m.ImportResult.of(query.mode, summary).model_dump(mode="json"))


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    service = _service(request)
    if service.ready:
        service.people.stats()  # refreshes the gallery gauges
    return web.Response(body=service.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
