"""One rule for names, everywhere: adding, renaming, looking up (and importing, see test_import_hardening)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hailo_face_server.errors import InvalidName
from hailo_face_server.gallery.names import name_key, normalize_name
from hailo_face_server.gallery.store import GalleryStore
from tests.support import Faces, image_json

Client = TestClient[web.Request, web.Application]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Penny  ", "Penny"),
        ("Al\u00a0ice", "Al ice"),  # a no-break space is a space
        ("Mary  Jane", "Mary Jane"),
        ("\uff5a\uff45\uff44", "zed"),  # fullwidth letters are letters
        ("Zo\u0065\u0308", "Zo\u00eb"),  # one way to write ë
        ("Bj\u00f6rn", "Bj\u00f6rn"),
        ("\u674e\u5c0f\u9f99", "\u674e\u5c0f\u9f99"),
    ],
)
def test_names_are_normalised(raw: str, stored: str) -> None:
    assert normalize_name(raw) == stored
    assert name_key(raw) == name_key(stored) == stored.casefold()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("unkn\u043ewn", "reserved"),  # a Cyrillic o
        ("UNKNOWN", "reserved"),
        ("\u057dnkn\u03bfwn", "reserved"),  # Armenian u, Greek o
        ("unkn0wn", "reserved"),
        ("Ignored", "reserved"),
        ("\u3164", "no visible"),  # Hangul filler
        ("\u2800", "no visible"),  # Braille blank
        ("\u200b\u200b", "control"),  # zero-width spaces
        ("\u0301", "no visible"),  # a lone combining accent
        ("Eve\u202e", "control"),  # a right-to-left override
        ("Eve\x1b[31m", "control"),
        ("Eve\nFAKE", "control"),
        ("a/b", "slashes"),
        ("x" * 65, "longer"),
        ("x" * 10_000, "longer"),
        ("   ", "empty"),
    ],
)
def test_names_that_mislead_are_refused(raw: str, why: str) -> None:
    with pytest.raises(InvalidName, match=why):
        normalize_name(raw)


async def test_one_rule_for_adding_renaming_and_looking_up(client: Client, faces: Faces) -> None:
    added = await client.post("/v1/database/add", json=image_json(faces.person("penny", 1), name=" Penny "))
    assert (await added.json())["identity"]["name"] == "Penny"
    again = await client.post(
        "/v1/database/add", json=image_json(faces.person("penny", 2), name="\uff50\uff45\uff4e\uff4e\uff59")
    )
    assert (await again.json())["created"] is False  # fullwidth "penny" is Penny
    body: dict[str, Any] = await (await client.get("/v1/database/list")).json()
    face_id = body["identities"][0]["samples"][0]["id"]
    for spelled in ("Penny%20", "%20penny", "PENNY", quote("\uff30enny")):
        response = await client.get(f"/v1/database/{spelled}/faces/{face_id}/image")
        assert response.status == 200, spelled
    renamed = await client.patch("/v1/database/Penny%20", json={"name": "Penny\u00a0Hofstadter"})
    assert (await renamed.json())["identity"]["name"] == "Penny Hofstadter"
    for bad in ("unkn\u043ewn", "\u3164", "Al\nice"):
        response = await client.post("/v1/database/add", json=image_json(faces.person("amy", 1), name=bad))
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_name"
        refused = await client.patch("/v1/database/Penny%20Hofstadter", json={"name": bad})
        assert (await refused.json())["error"]["code"] == "invalid_name"


def test_keys_stored_by_an_older_rule_are_brought_up_to_date(tmp_path: Path) -> None:
    store = GalleryStore(tmp_path / "faces.db")
    now = 1.7e9
    with sqlite3.connect(tmp_path / "faces.db") as db:  # as an older server stored them (NFC + casefold only)
        for name, key in (
            ("Mary  Jane", "mary  jane"),
            ("Mary Jane", "mary jane"),
            ("\uff5a\uff45\uff44", "\uff5a\uff45\uff44"),
        ):
            db.execute(
                "INSERT INTO identities (name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (name, key, now, now),
            )
        for identity_id in (1, 2):
            db.execute(
                "INSERT INTO faces (identity_id, source_model, crop_jpeg, landmarks, bbox, detection_score, created_at)"
                " VALUES (?, 'm', x'ffd8', '[]', '[]', 0.9, ?)",
                (identity_id, now),
            )
    store.close()
    store = GalleryStore(tmp_path / "faces.db")
    try:
        people = {record.name: record.face_count for record in store.identities()}
        assert people == {"Mary Jane": 2, "\uff5a\uff45\uff44": 0}  # one Mary Jane with both samples
        assert store.identity("ZED") is not None and store.identity("mary jane") is not None
    finally:
        store.close()
