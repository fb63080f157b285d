"""Recognition with the real CPU models on real photographs, through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.server.conftest import AppFactory
from tests.support import PEOPLE, Faces, image_json

Client = TestClient[web.Request, web.Application]


@pytest.fixture(params=["onnxruntime", "dlib"])
async def client(request: pytest.FixtureRequest, start_app: AppFactory) -> Client:
    """The same recognitions with both descriptor implementations: the names must not differ."""
    backend = request.getfixturevalue("cpu_backend" if request.param == "onnxruntime" else "dlib_cpu_backend")
    return await start_app(backend=backend)


async def enrol_everyone(client: Client, faces: Faces) -> None:
    for name in PEOPLE:
        response = await client.post("/v1/database/add", json=image_json(faces.person(name, 1), name=name))
        assert response.status == 201, await response.text()


async def recognize(client: Client, path: Any) -> dict[str, Any]:
    response = await client.post("/v1/recognize", json=image_json(path))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_people_enrolled_from_one_photo_are_recognised_in_the_others(client: Client, faces: Faces) -> None:
    await enrol_everyone(client, faces)
    right, unknown, wrong = [], [], []
    for name in PEOPLE:
        for number in range(2, 6):
            result = await recognize(client, faces.person(name, number))
            assert len(result["faces"]) == 1, f"{name}{number}: {result['faces']}"
            found = result["faces"][0]["name"]
            if found == name:
                right.append(f"{name}{number}")
            elif found is None:
                unknown.append(f"{name}{number}")
            else:
                wrong.append(f"{name}{number} as {found}")
    assert wrong == []
    assert len(right) >= 31, f"unknown: {unknown}"


def label_of(face: dict[str, Any], labels: list[dict[str, Any]]) -> str | None:
    x1, y1, x2, y2 = face["bbox"]
    inside = [label["name"] for label in labels if x1 <= label["center"][0] <= x2 and y1 <= label["center"][1] <= y2]
    return inside[0] if len(inside) == 1 else None


async def test_group_photos_are_recognised_against_their_labels(client: Client, faces: Faces) -> None:
    await enrol_everyone(client, faces)
    all_labels = faces.labels()
    for photo in ("bbt1.jpg", "bbt3.jpg"):
        result = await recognize(client, faces.group(photo))
        labels = all_labels[photo]
        assert len(result["faces"]) == len(labels), result["faces"]
        named = {label_of(face, labels): face["name"] for face in result["faces"]}
        assert named == {label["name"]: label["name"] for label in labels}, f"{photo}: {result['faces']}"
        for face in result["faces"]:
            assert 0.5 <= face["confidence"] <= 1
            assert face["identity_id"] is not None


async def test_a_photo_without_faces_gives_no_face(client: Client, faces: Faces) -> None:
    await enrol_everyone(client, faces)
    assert (await recognize(client, faces.group("no_face.png")))["faces"] == []


async def test_nobody_enrolled_means_every_face_is_unknown(client: Client, faces: Faces) -> None:
    result = await recognize(client, faces.group("bbt3.jpg"))
    assert len(result["faces"]) == 5
    assert all(face["name"] is None and face["identity_id"] is None for face in result["faces"])


async def test_stuart_is_never_named_in_photos_he_is_not_in(client: Client, faces: Faces) -> None:
    await enrol_everyone(client, faces)
    for number in range(1, 6):
        response = await client.post("/v1/database/add", json=image_json(faces.person("stuart", number), name="stuart"))
        assert response.status == 201
    for photo in ("bbt1.jpg", "bbt3.jpg"):
        names = [face["name"] for face in (await recognize(client, faces.group(photo)))["faces"]]
        assert "stuart" not in names


async def test_recognition_response_has_the_documented_shape(client: Client, faces: Faces) -> None:
    await enrol_everyone(client, faces)
    result = await recognize(client, faces.person("penny", 2))
    assert set(result) == {"width", "height", "faces", "timings_ms"}
    (face,) = result["faces"]
    assert set(face) == {"bbox", "score", "name", "identity_id", "outcome", "similarity", "confidence", "sighting_id"}
    assert face["name"] == "penny"
    assert 0 < face["score"] <= 1
    assert {"decode", "detect", "embed", "search", "total"} <= set(result["timings_ms"])


async def test_a_stricter_threshold_leaves_a_face_unknown(client: Client, faces: Faces) -> None:
    await enrol_everyone(client, faces)
    response = await client.post("/v1/recognize", json=image_json(faces.person("penny", 2), threshold=0.999999))
    (face,) = (await response.json())["faces"]
    assert face["name"] is None
    assert face["confidence"] < 0.999999
