"""Teaching, listing, renaming and forgetting people through the API."""

from __future__ import annotations

import io
from typing import Any

from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from PIL import Image

from tests.support import Faces, image_json

Client = TestClient[web.Request, web.Application]


async def add(client: Client, faces: Faces, name: str, person: str, number: int) -> dict[str, Any]:
    response = await client.post("/v1/database/add", json=image_json(faces.person(person, number), name=name))
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def listing(client: Client) -> list[dict[str, Any]]:
    response = await client.get("/v1/database/list")
    assert response.status == 200
    body = await response.json()
    assert body["total"] == len(body["identities"])
    identities: list[dict[str, Any]] = body["identities"]
    return identities


async def test_add_creates_an_identity_and_then_adds_samples_to_it(client: Client, faces: Faces) -> None:
    first = await add(client, faces, "Amy", "amy", 1)
    assert first["created"] is True
    assert first["identity"]["name"] == "Amy"
    assert first["identity"]["faces"] == 1
    assert isinstance(first["face_id"], int)
    assert set(first["face"]) == {"bbox", "score"}
    second = await add(client, faces, "amy", "amy", 2)  # names ignore case
    assert second["created"] is False
    assert second["identity"]["id"] == first["identity"]["id"]
    assert second["identity"]["name"] == "Amy"
    assert second["identity"]["faces"] == 2
    (amy,) = await listing(client)
    assert [s["id"] for s in amy["samples"]] == [first["face_id"], second["face_id"]]
    assert all(s["usable"] and s["model"] == "dlib_resnet_v1" for s in amy["samples"])
    assert amy["created_at"].endswith("Z") and amy["updated_at"] >= amy["created_at"]


async def test_add_accepts_raw_bodies_with_the_name_in_the_query(client: Client, faces: Faces) -> None:
    response = await client.post(
        "/v1/database/add?name=raj",
        data=faces.person("raj", 1).read_bytes(),
        headers={"Content-Type": "image/png"},
    )
    assert response.status == 201
    assert (await response.json())["identity"]["name"] == "raj"


async def test_add_accepts_multipart_forms(client: Client, faces: Faces) -> None:
    form = FormData()
    form.add_field("name", "Penny")
    form.add_field("image", faces.person("penny", 1).read_bytes(), filename="penny1.png", content_type="image/png")
    response = await client.post("/v1/database/add", data=form)
    assert response.status == 201
    assert (await response.json())["identity"]["name"] == "Penny"


async def test_several_faces_need_a_bbox_or_pick_largest(client: Client, faces: Faces) -> None:
    group = faces.group("bbt3.jpg")
    refused = await client.post("/v1/database/add", json=image_json(group, name="someone"))
    assert refused.status == 409
    error = (await refused.json())["error"]
    assert error["code"] == "multiple_faces"
    assert len(error["faces"]) == 5
    assert await listing(client) == []

    penny_box = next(face["bbox"] for face in error["faces"] if face["bbox"][0] <= 282 <= face["bbox"][2])
    chosen = await client.post("/v1/database/add", json=image_json(group, name="penny", bbox=penny_box))
    assert chosen.status == 201
    assert (await chosen.json())["face"]["bbox"] == penny_box

    largest = await client.post("/v1/database/add", json=image_json(group, name="biggest", pick="largest"))
    assert largest.status == 201
    boxes = [face["bbox"] for face in error["faces"]]
    biggest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    assert (await largest.json())["face"]["bbox"] == biggest


async def test_a_bbox_with_no_face_in_it_is_no_face(client: Client, faces: Faces) -> None:
    response = await client.post(
        "/v1/database/add", json=image_json(faces.group("bbt3.jpg"), name="x", bbox=[0, 300, 100, 383])
    )
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "no_face"


async def test_rename_moves_the_name_and_refuses_a_taken_one(client: Client, faces: Faces) -> None:
    await add(client, faces, "howard", "howard", 1)
    await add(client, faces, "raj", "raj", 1)
    taken = await client.patch("/v1/database/howard", json={"name": "RAJ"})
    assert taken.status == 409
    assert (await taken.json())["error"]["code"] == "name_taken"
    renamed = await client.patch("/v1/database/howard", json={"name": "Howard Wolowitz"})
    assert renamed.status == 200
    assert (await renamed.json())["identity"]["name"] == "Howard Wolowitz"
    assert sorted(i["name"] for i in await listing(client)) == ["Howard Wolowitz", "raj"]
    result = await (await client.post("/v1/recognize", json=image_json(faces.person("howard", 2)))).json()
    assert result["faces"][0]["name"] == "Howard Wolowitz"
    same = await client.patch("/v1/database/Howard%20Wolowitz", json={"name": "howard wolowitz"})
    assert same.status == 200


async def test_forget_one_sample_then_the_whole_person(client: Client, faces: Faces) -> None:
    first = await add(client, faces, "sheldon", "sheldon", 1)
    second = await add(client, faces, "sheldon", "sheldon", 2)
    one = await client.delete(f"/v1/database/sheldon/faces/{first['face_id']}")
    assert one.status == 200
    body = await one.json()
    assert body["deleted_face_id"] == first["face_id"]
    assert body["identity"]["faces"] == 1
    again = await client.delete(f"/v1/database/sheldon/faces/{first['face_id']}")
    assert again.status == 404
    # The remaining sample still recognises him.
    result = await (await client.post("/v1/recognize", json=image_json(faces.person("sheldon", 3)))).json()
    assert result["faces"][0]["name"] == "sheldon"

    everything = await client.delete("/v1/database/Sheldon")
    assert everything.status == 200
    assert (await everything.json())["deleted"]["faces"] == 1
    assert await listing(client) == []
    gone = await client.get(f"/v1/database/sheldon/faces/{second['face_id']}/image")
    assert gone.status == 404
    result = await (await client.post("/v1/recognize", json=image_json(faces.person("sheldon", 3)))).json()
    assert result["faces"][0]["name"] is None


async def test_the_stored_crop_is_a_small_jpeg_of_the_face(client: Client, faces: Faces) -> None:
    added = await add(client, faces, "leonard", "leonard", 1)
    response = await client.get(f"/v1/database/leonard/faces/{added['face_id']}/image")
    assert response.status == 200
    assert response.content_type == "image/jpeg"
    crop = Image.open(io.BytesIO(await response.read()))
    assert crop.format == "JPEG"
    assert 40 <= max(crop.size) <= 336


async def test_a_face_id_of_another_person_is_not_found(client: Client, faces: Faces) -> None:
    amy = await add(client, faces, "amy", "amy", 1)
    await add(client, faces, "raj", "raj", 1)
    response = await client.get(f"/v1/database/raj/faces/{amy['face_id']}/image")
    assert response.status == 404
    response = await client.delete(f"/v1/database/raj/faces/{amy['face_id']}")
    assert response.status == 404
    assert len((await listing(client))[0]["samples"]) == 1


async def test_unicode_names_work_in_paths(client: Client, faces: Faces) -> None:
    await add(client, faces, "Zoë Ångström", "amy", 1)
    response = await client.patch("/v1/database/zo%C3%AB%20%C3%A5ngstr%C3%B6m", json={"name": "Zoë"})
    assert response.status == 200
    assert (await response.json())["identity"]["name"] == "Zoë"
