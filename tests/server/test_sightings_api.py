"""Sightings through the HTTP API, on the real CPU backend and the real photographs.

A camera (``source``) sees people; the server keeps what it saw, merges
repeats, groups unknown faces, and the owner labels, ignores and rejects.
"""

from __future__ import annotations

import io
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from aiohttp.test_utils import TestClient
from PIL import Image, ImageEnhance

from hailo_face_server.sightings.store import NewSighting, SightingStore
from tests.server.conftest import AppFactory
from tests.support import Faces

Client = TestClient[web.Request, web.Application]
DOOR = "camera.front_door"
GARDEN = "camera.garden"


def variant(path: Path, seed: int) -> bytes:
    """A camera-like repeat of a photograph: a little crop, scale and light, JPEG at some quality."""
    rng = np.random.default_rng(seed)
    image = Image.open(path).convert("RGB")
    side = image.width
    cut = rng.integers(0, 8, 4)
    image = image.crop((int(cut[0]), int(cut[1]), side - int(cut[2]), side - int(cut[3])))
    scale = float(rng.uniform(0.85, 1.3))
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.7, 1.25)))
    # Room around the face, as a camera frame has.
    frame = Image.new("RGB", (image.width * 2, image.height * 2), (120, 118, 110))
    frame.paste(image, (image.width // 2, image.height // 2))
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=int(rng.integers(60, 95)))
    return out.getvalue()


async def recognize(client: Client, image: bytes, **params: str) -> list[dict[str, Any]]:
    response = await client.post("/v1/recognize", data=image, params=params, headers={"Content-Type": "image/jpeg"})
    assert response.status == 200, await response.text()
    faces: list[dict[str, Any]] = (await response.json())["faces"]
    return faces


async def teach(client: Client, faces: Faces, name: str, number: int = 1) -> None:
    response = await client.post(
        "/v1/database/add",
        data=faces.person(name, number).read_bytes(),
        params={"name": name},
        headers={"Content-Type": "image/png"},
    )
    assert response.status == 201, await response.text()


async def get(client: Client, path: str, status: int = 200, **params: str) -> Any:
    response = await client.get(path, params=params)
    assert response.status == status, await response.text()
    return await response.json()


async def post(client: Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = await client.post(path, json=body)
    assert response.status == status, await response.text()
    return await response.json()


async def test_a_face_seen_by_a_camera_is_kept_and_one_without_a_source_is_not(
    start_app: AppFactory, faces: Faces, tmp_path: Path
) -> None:
    client = await start_app(tmp_path)
    await teach(client, faces, "amy")
    (plain,) = await recognize(client, variant(faces.person("amy", 2), 1))
    assert plain["sighting_id"] is None and plain["outcome"] == "named"
    assert (await get(client, "/v1/sightings"))["total"] == 0

    (seen,) = await recognize(client, variant(faces.person("amy", 2), 1), source=DOOR)
    sighting = await get(client, f"/v1/sightings/{seen['sighting_id']}")
    assert sighting["source"] == DOOR and sighting["name"] == "amy" and sighting["outcome"] == "named"
    assert sighting["times_seen"] == 1 and 0 < sighting["quality"] <= 1 and sighting["face_size"] > 40
    crop = await client.get(f"/v1/sightings/{seen['sighting_id']}/image")
    assert crop.status == 200 and crop.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(await crop.read())).size[0] > 40
    health = await get(client, "/health")
    assert health["sightings"]["stored"] == 1
    assert (await get(client, "/v1/info"))["sightings"] is True
    # In its own file, apart from the gallery.
    with sqlite3.connect(tmp_path / "sightings.db") as db:
        assert db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] == 1
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_person_standing_at_the_door_is_one_sighting_seen_several_times(
    start_app: AppFactory, faces: Faces
) -> None:
    client = await start_app()
    await teach(client, faces, "raj")
    ids = set()
    for seed in range(4):  # scans a few seconds apart, each frame a little different
        (face,) = await recognize(client, variant(faces.person("raj", 3), seed), source=DOOR)
        ids.add(face["sighting_id"])
    assert len(ids) == 1
    (sighting,) = (await get(client, "/v1/sightings", source=DOOR))["sightings"]
    assert sighting["times_seen"] == 4
    # Another camera, another sighting.
    (face,) = await recognize(client, variant(faces.person("raj", 3), 9), source=GARDEN)
    assert face["sighting_id"] not in ids


async def test_unknown_faces_are_grouped_and_a_label_teaches_the_person(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    await teach(client, faces, "amy")
    for number in (2, 3, 4, 5):
        for seed in range(2):
            (face,) = await recognize(client, variant(faces.person("stuart", number), 10 * number + seed), source=DOOR)
            assert face["name"] is None and face["outcome"] == "unknown"
    listing = await get(client, "/v1/clusters")
    assert listing["clusters"], listing
    biggest = listing["clusters"][0]
    assert biggest["size"] >= 2 and biggest["sources"] == [DOOR] and biggest["best_sighting_ids"]
    members = await get(client, f"/v1/clusters/{biggest['id']}")
    assert {s["cluster_id"] for s in members["sightings"]} == {biggest["id"]}

    labelled = await post(client, f"/v1/clusters/{biggest['id']}/label", {"name": "Stuart"})
    assert labelled["created"] is True and labelled["identity"]["name"] == "Stuart"
    assert 1 <= len(labelled["face_ids"]) <= 5 and len(labelled["sighting_ids"]) == biggest["size"]
    # The samples remember where they were seen.
    people = await get(client, "/v1/database/list")
    assert "Stuart" in {p["name"] for p in people["identities"]}
    # Stuart's first portrait was never shown: it is named now.
    (face,) = await recognize(client, variant(faces.person("stuart", 1), 99))
    assert face["name"] == "Stuart", face
    sighting = await get(client, f"/v1/sightings/{labelled['sighting_ids'][0]}")
    assert sighting["name"] == "Stuart" and sighting["labelled"] is True and sighting["cluster_id"] is None
    assert sighting["confidence"] == 1.0  # the owner said so
    # A label sent again (a lost answer, retried) adds no second copy of the same samples.
    again = await post(client, "/v1/sightings/label", {"sighting_ids": labelled["sighting_ids"], "name": "stuart"})
    assert again["face_ids"] == [] and again["identity"]["faces"] == labelled["identity"]["faces"]


async def test_not_this_person_stops_the_same_mistake(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    for name in ("amy", "howard"):
        await teach(client, faces, name)
    # At a deliberately low confidence the stranger is given somebody's name.
    low = {"recognition_threshold": "0.0", "source": DOOR}
    (wrong,) = await recognize(client, variant(faces.person("stuart", 2), 1), **low)
    assert wrong["name"] is not None, "the test needs a wrong name at this confidence"
    rejected = await post(client, f"/v1/sightings/{wrong['sighting_id']}/reject", {})
    assert rejected["rejected"]["name"] == wrong["name"]
    # Not the rejected name, and not the next nearest person either: more like the rejected face than like
    # anyone's sample, the stranger stays unknown, on another photo of him too.
    for number in (2, 3):
        (again,) = await recognize(client, variant(faces.person("stuart", number), 2), **low)
        assert again["name"] is None and again["outcome"] == "unknown", again
    # The rejected one is listed, and can be removed.
    negatives = await get(client, f"/v1/database/{wrong['name']}/negatives")
    assert [n["sighting_id"] for n in negatives["negatives"]] == [wrong["sighting_id"]]
    listed = {p["name"]: p for p in (await get(client, "/v1/database/list"))["identities"]}
    assert [n["sighting_id"] for n in listed[wrong["name"]]["negatives"]] == [wrong["sighting_id"]]
    image = await client.get(f"/v1/database/{wrong['name']}/negatives/{negatives['negatives'][0]['id']}/image")
    assert image.status == 200
    # The true person keeps their name.
    (amy,) = await recognize(client, variant(faces.person("amy", 2), 3))
    assert amy["name"] == "amy"
    removed = await client.delete(f"/v1/database/{wrong['name']}/negatives/{negatives['negatives'][0]['id']}")
    assert removed.status == 200
    assert (await get(client, f"/v1/database/{wrong['name']}/negatives"))["negatives"] == []


async def test_this_is_bob_not_alice_is_one_call(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    await teach(client, faces, "amy")
    (wrong,) = await recognize(client, variant(faces.person("penny", 2), 1), recognition_threshold="0.0", source=DOOR)
    assert wrong["name"] == "amy"
    result = await post(client, f"/v1/sightings/{wrong['sighting_id']}/reject", {"name": "penny"})
    assert result["rejected"]["name"] == "amy" and result["relabelled"]["identity"]["name"] == "penny"
    (face,) = await recognize(client, variant(faces.person("penny", 2), 5))
    assert face["name"] == "penny"


async def test_a_rejected_face_named_later_is_named_in_the_same_frame(start_app: AppFactory, faces: Faces) -> None:
    """Rejected for Amy, then labelled Penny: the very same frame is Penny's, not refused by rounding.

    The negative and the new sample are the same vector; their two similarities to
    the frame come from different matrix products and may differ in the last bits.
    """
    client = await start_app()
    await teach(client, faces, "amy")
    frame = variant(faces.person("penny", 2), 1)
    (wrong,) = await recognize(client, frame, recognition_threshold="0.0", source=DOOR)
    assert wrong["name"] == "amy"
    await post(client, f"/v1/sightings/{wrong['sighting_id']}/reject", {})
    labelled = await post(client, "/v1/sightings/label", {"sighting_ids": [wrong["sighting_id"]], "name": "penny"})
    assert labelled["identity"]["name"] == "penny"
    for _ in range(3):
        (face,) = await recognize(client, frame, source=DOOR)
        assert face["name"] == "penny", face


async def test_an_ignored_cluster_is_reported_as_ignored(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    for seed in range(2):
        await recognize(client, variant(faces.person("sheldon", 4), seed), source=DOOR)
    (poster,) = (await get(client, "/v1/clusters"))["clusters"]
    ignored = await post(client, f"/v1/clusters/{poster['id']}/ignore", {})
    assert ignored["identity"]["kind"] == "ignored"
    (face,) = await recognize(client, variant(faces.person("sheldon", 4), 7), source=DOOR)
    assert face["outcome"] == "ignored" and face["name"] is None
    assert (await get(client, "/v1/database/list"))["identities"] == []
    assert len((await get(client, "/v1/database/list", kind="ignored"))["identities"]) == 1
    assert (await get(client, "/health"))["identities"] == 0


async def test_forgetting_a_person_deletes_their_sightings(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    await teach(client, faces, "leonard")
    (face,) = await recognize(client, variant(faces.person("leonard", 2), 1), source=DOOR)
    assert (await client.delete("/v1/database/leonard")).status == 200
    await get(client, f"/v1/sightings/{face['sighting_id']}", status=404)
    assert (await get(client, "/v1/sightings"))["total"] == 0
    assert (await get(client, "/health"))["sightings"]["stored"] == 0  # the counts follow the deletion at once


async def test_deleting_a_sighting_and_dismissing_a_cluster(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    # Two cameras: the same face at one camera within a minute would be one sighting.
    seen = [
        (await recognize(client, variant(faces.person("howard", n), n), source=source))[0]
        for n, source in ((2, DOOR), (3, GARDEN))
    ]
    assert (await get(client, "/health"))["sightings"]["stored"] == 2
    response = await client.delete(f"/v1/sightings/{seen[0]['sighting_id']}")
    assert response.status == 200
    assert (await client.get(f"/v1/sightings/{seen[0]['sighting_id']}/image")).status == 404
    assert (await get(client, "/health"))["sightings"]["stored"] == 1  # /health follows at once, not at the next write
    clusters = (await get(client, "/v1/clusters"))["clusters"]
    assert clusters, "howard's other face is a good unknown face: it is in a cluster"
    for cluster in clusters:
        assert (await client.delete(f"/v1/clusters/{cluster['id']}")).status == 200
    assert (await get(client, "/v1/clusters"))["clusters"] == []
    health = (await get(client, "/health"))["sightings"]
    assert (health["stored"], health["unknown_clusters"]) == (0, 0)


async def test_the_feed_filters_pages_and_sums_up(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    await teach(client, faces, "amy")
    # Different people: the same person twice at one camera within a minute would be one sighting.
    for n, (name, source) in enumerate((("bernadette", DOOR), ("bernadette", GARDEN), ("howard", DOOR))):
        await recognize(client, variant(faces.person(name, 2), n), source=source)
    await recognize(client, variant(faces.person("amy", 3), 1), source=GARDEN)
    assert (await get(client, "/v1/sightings", source=DOOR))["total"] == 2
    named = await get(client, "/v1/sightings", person="amy")
    assert [s["name"] for s in named["sightings"]] == ["amy"]
    first = await get(client, "/v1/sightings", limit="2")
    assert len(first["sightings"]) == 2 and first["next_cursor"] and first["total"] == 4
    rest = await get(client, "/v1/sightings", limit="2", cursor=first["next_cursor"])
    assert {s["id"] for s in first["sightings"]}.isdisjoint({s["id"] for s in rest["sightings"]})
    assert len(rest["sightings"]) == 2
    summary = await get(client, "/v1/sightings/summary")
    assert {row["source"]: row["sightings"] for row in summary["sources"]} == {DOOR: 2, GARDEN: 2}
    (amy,) = summary["people"]
    assert amy["name"] == "amy" and amy["source"] == GARDEN


async def test_bad_requests_get_clear_errors(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app()
    for path in ("/v1/sightings/999", "/v1/sightings/abc", "/v1/sightings/999/image", "/v1/clusters/5"):
        body = await get(client, path, status=400 if path.endswith("abc") else 404)
        assert body["error"]["code"] in {"not_found", "invalid_request"}
    body = await get(client, "/v1/sightings", status=400, limit="0")
    assert body["error"]["code"] == "invalid_request" and "limit" in body["error"]["message"]
    body = await get(client, "/v1/sightings", status=400, colour="red")
    assert "colour" in body["error"]["message"]
    body = await post(client, "/v1/sightings/label", {"sighting_ids": [], "name": "x"}, status=400)
    assert "sighting_ids" in body["error"]["message"]
    body = await post(client, "/v1/sightings/label", {"sighting_ids": [12345], "name": "x"}, status=404)
    (face,) = await recognize(client, variant(faces.person("amy", 2), 1), source=DOOR)
    body = await post(client, f"/v1/sightings/{face['sighting_id']}/reject", {}, status=409)
    assert body["error"]["code"] == "not_named"
    response = await client.post(
        "/v1/recognize", data=b"x", params={"source": "a\x01b"}, headers={"Content-Type": "image/jpeg"}
    )
    assert response.status == 400
    response = await client.post(f"/v1/clusters/{face['sighting_id']}/label", data="name=x")
    assert response.status == 415


async def test_with_sightings_off_nothing_is_kept(start_app: AppFactory, faces: Faces) -> None:
    client = await start_app(sightings__enabled="false")
    (face,) = await recognize(client, variant(faces.person("amy", 2), 1), source=DOOR)
    assert face["sighting_id"] is None
    body = await get(client, "/v1/sightings", status=404)
    assert body["error"]["code"] == "sightings_off"
    assert "sightings" not in await get(client, "/health")


async def test_old_sightings_are_purged_at_start(start_app: AppFactory, tmp_path: Path) -> None:
    """Retention: unknown faces after keep_unknown_days, named ones after keep_named_days, checked at start."""
    store = SightingStore(tmp_path / "sightings.db")
    now = time.time()
    ages = {"unknown": (3 * DAY, 8 * DAY), "named": (1 * DAY, 3 * DAY)}
    kept = []
    for outcome, (young, old) in ages.items():
        for age in (young, old):
            sighting_id = store.add(stored_sighting(outcome, now - age))
            if age == young:
                kept.append(sighting_id)
    store.close()
    client = await start_app(tmp_path)  # defaults: 7 days unknown, 2 days named
    listed = await get(client, "/v1/sightings")
    assert sorted(s["id"] for s in listed["sightings"]) == sorted(kept)


DAY = 86_400.0


def stored_sighting(outcome: str, seen_at: float) -> NewSighting:
    named = outcome == "named"
    with io.BytesIO() as out:
        Image.new("RGB", (40, 40), (90, 90, 90)).save(out, "JPEG")
        crop = out.getvalue()
    vector = np.random.default_rng(int(seen_at)).normal(size=128).astype(np.float32)
    return NewSighting(
        source=DOOR,
        seen_at=seen_at,
        bbox=[0.0, 0.0, 40.0, 40.0],
        landmarks=[[10.0, 15.0], [30.0, 15.0], [20.0, 22.0], [12.0, 30.0], [28.0, 30.0]],
        landmark_scheme="arcface_5",
        crop_jpeg=crop,
        model_id="dlib_resnet_v1",
        embedding=vector / np.linalg.norm(vector),
        detection_score=0.9,
        face_size=40.0,
        sharpness=0.5,
        frontalness=1.0,
        quality=0.4,
        outcome=outcome,
        identity_id=1 if named else None,
        identity_name="amy" if named else None,
        confidence=0.9 if named else 0.1,
    )
