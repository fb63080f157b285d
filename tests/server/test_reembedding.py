"""Samples taught with another model are embedded again from their stored crops."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hailo_face_server.gallery.store import GalleryStore, NewFace
from hailo_face_server.imaging import decode_image, face_crop_jpeg
from tests.server.conftest import AppFactory
from tests.support import Faces, image_json


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


async def test_crops_are_embedded_again_and_faceless_ones_are_counted(
    start_app: AppFactory, faces: Faces, tmp_path: Path
) -> None:
    store = GalleryStore(tmp_path / "faces.db")
    penny = decode_image(faces.person("penny", 1).read_bytes(), 10**8).frame
    crops = {
        "penny": face_crop_jpeg(penny, [11, 11, 140, 140]),
        "blank": jpeg(Image.new("RGB", (160, 160), (200, 200, 200))),
    }
    for name, crop in crops.items():
        other = NewFace("old_model", np.ones(16, np.float32) / 4, crop, [[0.0, 0.0]] * 5, [0, 0, 1, 1], 0.9)
        store.add_face(name, other)
    store.close()

    client = await start_app(tmp_path)
    health: dict[str, Any] = {}
    for _ in range(200):
        health = await (await client.get("/health")).json()
        if not health["reembedding"]["running"]:
            break
        await asyncio.sleep(0.05)
    assert health["reembedding"] == {"model": "dlib_resnet_v1", "total": 2, "done": 1, "failed": 1, "running": False}
    assert (health["faces"], health["faces_pending"]) == (1, 1)
    result = await (await client.post("/v1/recognize", json=image_json(faces.person("penny", 2)))).json()
    assert result["faces"][0]["name"] == "penny"
    listing = {i["name"]: i for i in (await (await client.get("/v1/database/list")).json())["identities"]}
    assert listing["penny"]["samples"][0]["usable"] is True
    assert listing["blank"]["samples"][0]["usable"] is False
