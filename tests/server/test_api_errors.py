"""Every error the API documents: a JSON body with a stable code, the right status, nothing stored."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from PIL import Image

from tests.server.conftest import AppFactory
from tests.support import Faces, image_json, png_claiming

Client = TestClient[web.Request, web.Application]


async def expect_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


async def assert_gallery_empty(client: Client) -> None:
    assert (await (await client.get("/v1/database/list")).json())["identities"] == []


def encoded(image: Image.Image, image_format: str) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format)
    return out.getvalue()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"[1, 2]", "application/json"),
    ],
)
async def test_bad_json_is_invalid_json(client: Client, body: bytes, content_type: str) -> None:
    response = await client.post("/v1/recognize", data=body, headers={"Content-Type": content_type})
    await expect_error(response, 400, "invalid_json")


async def test_base64_garbage_is_invalid_base64(client: Client) -> None:
    response = await client.post("/v1/detect", json={"image": "this is not base64!!"})
    await expect_error(response, 400, "invalid_base64")
    response = await client.post("/v1/detect", json={"image": 12345})
    await expect_error(response, 400, "invalid_base64")


async def test_undecodable_images_are_invalid_image(client: Client, faces: Faces) -> None:
    jpeg = faces.group("bbt3.jpg").read_bytes()
    for data in (b"\xff\xd8\xff\xe0 not really a jpeg", jpeg[: len(jpeg) // 3], b"", b"\x00" * 100):
        response = await client.post("/v1/detect", data=data, headers={"Content-Type": "image/jpeg"})
        await expect_error(response, 400, "invalid_image")
    response = await client.post("/v1/detect", json={"image": base64.b64encode(b"plain text").decode()})
    await expect_error(response, 400, "invalid_image")


async def test_a_decompression_bomb_is_refused_before_decoding(client: Client) -> None:
    response = await client.post("/v1/detect", data=png_claiming(50_000, 50_000), headers={"Content-Type": "image/png"})
    await expect_error(response, 413, "image_too_large")
    response = await client.post("/v1/detect", data=png_claiming(10_000, 9_000), headers={"Content-Type": "image/png"})
    error = await expect_error(response, 413, "image_too_large")
    assert (error["width"], error["height"]) == (10_000, 9_000)


async def test_an_image_over_the_pixel_limit_is_image_too_large(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app(server__max_image_megapixels=0.5)
    response = await client.post("/v1/detect", json=image_json(faces.group("bbt1.jpg")))  # 1.05 MP
    await expect_error(response, 413, "image_too_large")


async def test_a_body_over_the_limit_is_payload_too_large(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app(server__max_body_mb=0.1)
    big = faces.group("bbt1.jpg").read_bytes()  # about 190 kB
    assert len(big) > 0.1 * 1024 * 1024
    response = await client.post("/v1/detect", data=big, headers={"Content-Type": "image/jpeg"})
    await expect_error(response, 413, "payload_too_large")
    response = await client.post("/v1/database/add", json=image_json(faces.group("bbt1.jpg"), name="x"))
    await expect_error(response, 413, "payload_too_large")
    form = FormData()
    form.add_field("name", "x")
    form.add_field("image", big, filename="big.jpg", content_type="image/jpeg")
    response = await client.post("/v1/database/add", data=form)
    await expect_error(response, 413, "payload_too_large")
    await assert_gallery_empty(client)


async def test_wrong_content_types_are_unsupported(client: Client, faces: Faces) -> None:
    response = await client.post("/v1/detect", data=b"hello", headers={"Content-Type": "text/plain"})
    await expect_error(response, 415, "unsupported_media_type")
    response = await client.post("/v1/detect", data=b"hello")
    await expect_error(response, 415, "unsupported_media_type")
    gif = encoded(Image.open(faces.person("amy", 1)), "GIF")
    response = await client.post("/v1/detect", json={"image": base64.b64encode(gif).decode()})
    await expect_error(response, 415, "unsupported_media_type")
    response = await client.patch("/v1/database/amy", data=b"name=x", headers={"Content-Type": "text/plain"})
    await expect_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "fields",
    [
        {"threshold": 2},
        {"threshold": "high"},
        {"threshold": float("nan")},
        {"max_faces": 0},
        {"max_faces": 10**12},
        {"min_face_size": -40},
        {"colour": "blue"},
    ],
)
async def test_bad_parameters_are_invalid_request(client: Client, faces: Faces, fields: dict[str, Any]) -> None:
    payload = image_json(faces.person("amy", 1), **fields)
    body = __import__("json").dumps(payload, allow_nan=True)
    response = await client.post("/v1/recognize", data=body, headers={"Content-Type": "application/json"})
    error = await expect_error(response, 400, "invalid_request")
    assert next(iter(fields)) in error["message"]


@pytest.mark.parametrize(
    "bbox",
    [[1, 2, 3], [10, 10, 5, 20], "a,b,c,d", [0, 0, 1e12, 1e12], {"x": 1}],
)
async def test_bad_boxes_are_invalid_request(client: Client, faces: Faces, bbox: Any) -> None:
    response = await client.post("/v1/embed", json=image_json(faces.person("amy", 1), bbox=bbox))
    await expect_error(response, 400, "invalid_request")


async def test_a_missing_image_or_name_is_invalid_request(client: Client, faces: Faces) -> None:
    response = await client.post("/v1/detect", json={"picture": "abc"})
    await expect_error(response, 400, "invalid_request")
    response = await client.post("/v1/database/add", json=image_json(faces.person("amy", 1)))
    error = await expect_error(response, 400, "invalid_request")
    assert "name" in error["message"]
    form = FormData(default_to_multipart=True)
    form.add_field("name", "amy")
    response = await client.post("/v1/database/add", data=form)
    await expect_error(response, 400, "invalid_request")
    await assert_gallery_empty(client)


@pytest.mark.parametrize(
    "name",
    ["", "   ", "a/b", "back\\slash", "tab\tname", "unknown", "UNKNOWN", "x" * 65, 42, None, "\ud800"],
)
async def test_bad_names_are_invalid_name(client: Client, faces: Faces, name: Any) -> None:
    payload = image_json(faces.person("amy", 1), name=name)
    body = __import__("json").dumps(payload)
    response = await client.post("/v1/database/add", data=body, headers={"Content-Type": "application/json"})
    await expect_error(response, 400, "invalid_name")
    await assert_gallery_empty(client)


async def test_rename_to_a_bad_name_changes_nothing(client: Client, faces: Faces) -> None:
    assert (await client.post("/v1/database/add", json=image_json(faces.person("amy", 1), name="amy"))).status == 201
    await expect_error(await client.patch("/v1/database/amy", json={"name": "a/b"}), 400, "invalid_name")
    await expect_error(await client.patch("/v1/database/amy", json={}), 400, "invalid_request")
    (amy,) = (await (await client.get("/v1/database/list")).json())["identities"]
    assert amy["name"] == "amy"


async def test_unknown_routes_people_and_faces_are_not_found(client: Client) -> None:
    await expect_error(await client.get("/v1/nothing"), 404, "not_found")
    await expect_error(await client.delete("/v1/database/nobody"), 404, "not_found")
    await expect_error(await client.patch("/v1/database/nobody", json={"name": "x"}), 404, "not_found")
    await expect_error(await client.delete("/v1/database/nobody/faces/1"), 404, "not_found")
    await expect_error(await client.get("/v1/database/nobody/faces/1/image"), 404, "not_found")


async def test_a_face_id_that_is_not_a_number_is_invalid_request(client: Client) -> None:
    await expect_error(await client.delete("/v1/database/amy/faces/abc"), 400, "invalid_request")


async def test_a_wrong_method_is_method_not_allowed(client: Client) -> None:
    response = await client.get("/v1/recognize")
    await expect_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


async def test_no_face_to_teach_is_no_face(client: Client, faces: Faces) -> None:
    response = await client.post("/v1/database/add", json=image_json(faces.group("no_face.png"), name="ghost"))
    await expect_error(response, 422, "no_face")
    await assert_gallery_empty(client)


async def test_several_faces_to_teach_is_multiple_faces(client: Client, faces: Faces) -> None:
    response = await client.post("/v1/database/add", json=image_json(faces.group("bbt1.jpg"), name="who"))
    error = await expect_error(response, 409, "multiple_faces")
    assert len(error["faces"]) == 4
    await assert_gallery_empty(client)


async def test_a_taken_name_is_name_taken(client: Client, faces: Faces) -> None:
    for name, person in (("amy", "amy"), ("raj", "raj")):
        response = await client.post("/v1/database/add", json=image_json(faces.person(person, 1), name=name))
        assert response.status == 201
    await expect_error(await client.patch("/v1/database/raj", json={"name": "Amy"}), 409, "name_taken")


async def test_responses_carry_a_request_id(client: Client) -> None:
    response = await client.get("/v1/nothing", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    response = await client.get("/health")
    assert len(response.headers["X-Request-ID"]) == 16
