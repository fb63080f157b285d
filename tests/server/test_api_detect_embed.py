"""/v1/detect, /v1/embed, /health and /v1/info on the real app, and the three ways to send an image."""

from __future__ import annotations

import io

import numpy as np
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from PIL import Image

from tests.support import Faces, image_json

Client = TestClient[web.Request, web.Application]


async def test_detect_finds_the_five_faces_of_bbt3_with_landmarks(client: Client, faces: Faces) -> None:
    response = await client.post("/v1/detect", json=image_json(faces.group("bbt3.jpg")))
    assert response.status == 200
    body = await response.json()
    assert (body["width"], body["height"]) == (594, 383)
    assert len(body["faces"]) == 5
    for face in body["faces"]:
        x1, y1, x2, y2 = face["bbox"]
        assert 0 <= x1 < x2 <= 594 and 0 <= y1 < y2 <= 383
        assert 0.5 <= face["score"] <= 1
        assert len(face["landmarks"]) == 5
        for x, y in face["landmarks"]:
            assert x1 - 5 <= x <= x2 + 5 and y1 - 5 <= y <= y2 + 5
    assert {"decode", "queue", "detect", "total"} <= set(body["timings_ms"])


async def test_detect_max_faces_keeps_the_largest(client: Client, faces: Faces) -> None:
    everything = await (await client.post("/v1/detect", json=image_json(faces.group("bbt3.jpg")))).json()
    two = await (await client.post("/v1/detect", json=image_json(faces.group("bbt3.jpg"), max_faces=2))).json()
    areas = sorted((f["bbox"][2] - f["bbox"][0]) * (f["bbox"][3] - f["bbox"][1]) for f in everything["faces"])
    assert len(two["faces"]) == 2
    assert sorted((f["bbox"][2] - f["bbox"][0]) * (f["bbox"][3] - f["bbox"][1]) for f in two["faces"]) == areas[-2:]


async def test_detect_min_face_size_drops_small_faces(client: Client, faces: Faces) -> None:
    response = await client.post("/v1/detect", json=image_json(faces.group("bbt3.jpg"), min_face_size=100))
    assert (await response.json())["faces"] == []


async def test_faces_of_40_pixels_in_a_large_photo_are_found(client: Client, faces: Faces) -> None:
    # bbt3 enlarged 3x and pasted into a 1920 x 1080 frame has faces of 150+ px;
    # shrunk to 0.75 its faces are about 40 px wide.
    photo = Image.open(faces.group("bbt3.jpg")).convert("RGB")
    small = photo.resize((round(photo.width * 0.75), round(photo.height * 0.75)), Image.Resampling.BILINEAR)
    frame = Image.new("RGB", (1920, 1080), (90, 90, 90))
    frame.paste(small, (700, 500))
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=92)
    response = await client.post("/v1/detect", data=out.getvalue(), headers={"Content-Type": "image/jpeg"})
    body = await response.json()
    widths = [face["bbox"][2] - face["bbox"][0] for face in body["faces"]]
    assert len(widths) == 5, body
    assert min(widths) < 48


async def test_embed_returns_unit_vectors_of_the_model_dimension(client: Client, faces: Faces) -> None:
    response = await client.post("/v1/embed", json=image_json(faces.person("amy", 1)))
    assert response.status == 200
    body = await response.json()
    assert body["model"] == "dlib_resnet_v1"
    assert body["dim"] == 128
    (face,) = body["faces"]
    vector = np.array(face["embedding"])
    assert vector.shape == (128,)
    assert abs(np.linalg.norm(vector) - 1) < 1e-4


async def test_embed_with_bbox_embeds_only_that_face(client: Client, faces: Faces) -> None:
    everyone = await (await client.post("/v1/embed", json=image_json(faces.group("bbt3.jpg")))).json()
    assert len(everyone["faces"]) == 5
    target = everyone["faces"][2]
    chosen = await (
        await client.post("/v1/embed", json=image_json(faces.group("bbt3.jpg"), bbox=target["bbox"]))
    ).json()
    (face,) = chosen["faces"]
    assert face["bbox"] == target["bbox"]
    assert np.dot(face["embedding"], target["embedding"]) > 0.9999


async def test_the_same_image_as_json_raw_body_and_multipart_gives_the_same_faces(client: Client, faces: Faces) -> None:
    path = faces.group("bbt3.jpg")
    as_json = await (await client.post("/v1/detect", json=image_json(path))).json()
    raw = await (await client.post("/v1/detect", data=path.read_bytes(), headers={"Content-Type": "image/jpeg"})).json()
    form = FormData()
    form.add_field("image", path.read_bytes(), filename="bbt3.jpg", content_type="image/jpeg")
    multipart = await (await client.post("/v1/detect", data=form)).json()
    assert as_json["faces"] == raw["faces"] == multipart["faces"]


async def test_png_and_webp_are_accepted(client: Client, faces: Faces) -> None:
    photo = Image.open(faces.group("bbt3.jpg"))
    for image_format, content_type in (("PNG", "image/png"), ("WEBP", "image/webp")):
        out = io.BytesIO()
        photo.save(out, image_format, quality=95)
        response = await client.post("/v1/detect", data=out.getvalue(), headers={"Content-Type": content_type})
        assert response.status == 200
        assert len((await response.json())["faces"]) == 5


async def test_exif_orientation_is_applied(client: Client, faces: Faces) -> None:
    # Stored lying on its side with an EXIF tag saying "rotate 90 clockwise to view".
    upright = Image.open(faces.group("bbt3.jpg")).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=95, exif=exif.tobytes())
    response = await client.post("/v1/detect", data=out.getvalue(), headers={"Content-Type": "image/jpeg"})
    body = await response.json()
    assert (body["width"], body["height"]) == (594, 383)
    assert len(body["faces"]) == 5


async def test_parameters_can_come_in_the_query_string(client: Client, faces: Faces) -> None:
    response = await client.post(
        "/v1/detect?max_faces=1", data=faces.group("bbt3.jpg").read_bytes(), headers={"Content-Type": "image/jpeg"}
    )
    assert len((await response.json())["faces"]) == 1


async def test_health_and_info_describe_the_server(client: Client) -> None:
    health = await (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert health["backend"] == "cpu"
    assert health["identities"] == 0 and health["faces"] == 0
    assert health["faces_pending"] == 0
    assert "reembedding" not in health
    assert set(health["models"]) == {"detector", "landmarks", "embedder", "embedder_runtime"}
    assert health["models"]["embedder_runtime"] == "onnxruntime"
    assert "version" in health
    assert len(health["server_id"]) == 32
    info = await (await client.get("/v1/info")).json()
    assert info["server_id"] == health["server_id"]
    assert info["embedding_dim"] == 128
    assert info["recognition_threshold"] == 0.5
    assert info["detection_threshold"] == 0.5
    assert info["limits"]["max_queue_size"] == 10
