"""The API client against the real server app: every call, every error class."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from custom_components.hailo_face.api import (
    AuthFailed,
    CannotConnect,
    HailoFaceClient,
    InvalidInput,
    MultipleFaces,
    NameTaken,
    NoFace,
    NotFound,
    ServerBusy,
    image_content_type,
)
from tests.integration.conftest import RunningServer
from tests.support import PEOPLE, Faces, wait_until

API_MODULE = Path(__file__).resolve().parents[2] / "custom_components" / "hailo_face" / "api.py"


def test_the_client_imports_nothing_from_home_assistant() -> None:
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('hailo_face_api', {str(API_MODULE)!r})\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['hailo_face_api'] = module\n"
        "spec.loader.exec_module(module)\n"
        "print(any(name.split('.')[0] == 'homeassistant' for name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


async def test_every_call_against_the_real_server(hailo_server: RunningServer, faces: Faces) -> None:
    async with aiohttp.ClientSession() as session:
        client = HailoFaceClient(hailo_server.url, hailo_server.api_key, session)
        health = await client.health()
        assert (health.status, health.backend, health.fallback, health.problem) == ("ok", "cpu", None, None)
        info = await client.info()
        assert info.server_id == health.raw["server_id"] and info.backend == "cpu"
        for name in PEOPLE[:3]:
            taught = await client.add_face(name, faces.person(name, 1).read_bytes())
            assert taught.created and taught.identity.name == name and taught.face_id > 0
        again = await client.add_face("Amy", faces.person("amy", 2).read_bytes())
        assert (again.created, again.identity.faces) == (False, 2)
        result = await client.recognize(faces.person("howard", 3).read_bytes(), threshold=0.5, max_faces=3)
        (face,) = result.faces
        assert (face.name, result.width) == ("howard", 150)
        assert 0.5 <= face.confidence <= 1 and face.identity_id is not None
        group = faces.group("bbt3.jpg").read_bytes()
        assert len(await client.detect(group)) == 5
        largest = await client.add_face("biggest", group, pick_largest=True)
        assert largest.identity.faces == 1
        boxed = await client.add_face("chosen", group, bbox=[250, 105, 310, 165])
        assert boxed.bbox[0] > 250
        listing = {identity.name: identity for identity in await client.list_identities()}
        assert listing["amy"].faces == 2 and all(s.usable for s in listing["amy"].samples)
        crop = await client.face_image("amy", listing["amy"].samples[0].id)
        assert crop.startswith(b"\xff\xd8")
        renamed = await client.rename("biggest", "Zoë Ångström")
        assert renamed.name == "Zoë Ångström"
        assert (await client.delete_identity("zoë ångström")).faces == 1
        left = await client.delete_face("amy", listing["amy"].samples[0].id)
        assert left.faces == 1


async def test_errors_become_the_clients_exceptions(hailo_server: RunningServer, faces: Faces) -> None:
    async with aiohttp.ClientSession() as session:
        client = HailoFaceClient(hailo_server.url, hailo_server.api_key, session)
        with pytest.raises(NoFace):
            await client.add_face("ghost", faces.group("no_face.png").read_bytes())
        with pytest.raises(MultipleFaces) as several:
            await client.add_face("crowd", faces.group("bbt1.jpg").read_bytes())
        assert len(several.value.faces) == 4
        with pytest.raises(NotFound):
            await client.delete_identity("nobody")
        await client.add_face("amy", faces.person("amy", 1).read_bytes())
        await client.add_face("raj", faces.person("raj", 1).read_bytes())
        with pytest.raises(NameTaken):
            await client.rename("raj", "AMY")
        with pytest.raises(InvalidInput) as bad_name:
            await client.add_face("a/b", faces.person("amy", 1).read_bytes())
        assert bad_name.value.code == "invalid_name"
        with pytest.raises(InvalidInput):
            image_content_type(b"GIF89a...")
        wrong_key = HailoFaceClient(hailo_server.url, "wrong", session)
        with pytest.raises(AuthFailed):
            await wrong_key.info()
        assert (await wrong_key.health()).status == "ok"  # /health needs no key


async def test_a_busy_server_is_server_busy(hailo_server: RunningServer, faces: Faces) -> None:
    import asyncio
    import threading

    assert hailo_server.server is not None
    from hailo_face_server.api.keys import SERVICE

    worker = hailo_server.server.app[SERVICE].worker
    release = threading.Event()
    blockers = [asyncio.ensure_future(worker.run(release.wait, None)) for _ in range(worker.max_queue_size)]
    await wait_until(lambda: worker.depth == worker.max_queue_size, "a full queue")
    try:
        async with aiohttp.ClientSession() as session:
            client = HailoFaceClient(hailo_server.url, hailo_server.api_key, session)
            with pytest.raises(ServerBusy) as busy:
                await client.recognize(faces.person("amy", 1).read_bytes())
            assert busy.value.retry_after is not None and busy.value.retry_after >= 1
    finally:
        release.set()
        await asyncio.gather(*blockers)


async def test_an_unreachable_server_is_cannot_connect(hailo_server: RunningServer) -> None:
    url = hailo_server.url
    await hailo_server.stop()
    async with aiohttp.ClientSession() as session:
        client = HailoFaceClient(url, None, session, timeout=5)
        with pytest.raises(CannotConnect):
            await client.info()
        with pytest.raises(CannotConnect):
            await client.health()


async def test_what_the_cameras_saw_against_the_real_server(hailo_server: RunningServer, faces: Faces) -> None:
    """Sightings, their crops, labelling (sightings or a cluster), "not this person" and last-seen."""
    async with aiohttp.ClientSession() as session:
        client = HailoFaceClient(hailo_server.url, hailo_server.api_key, session)
        await client.add_face("amy", faces.person("amy", 1).read_bytes())
        assert await client.people_seen() == []
        # Stuart at the door: unknown, kept as sightings; named from one of them.
        seen = [
            (await client.recognize(faces.person("stuart", n).read_bytes(), source="camera.door")).faces[0]
            for n in (2, 3)
        ]
        assert all(face.outcome == "unknown" and face.sighting_id for face in seen)
        crop = await client.sighting_image(seen[0].sighting_id or 0)
        assert crop.startswith(b"\xff\xd8")
        labelled = await client.label_sightings([seen[0].sighting_id or 0], "stuart")
        assert labelled.created and labelled.identity.name == "stuart" and labelled.face_ids
        # A wrong name at a lenient threshold, rejected with who it really is.
        wrong = await client.recognize(faces.person("penny", 1).read_bytes(), threshold=0.0, source="camera.door")
        face = wrong.faces[0]
        assert face.outcome == "named" and face.sighting_id is not None
        rejected = await client.reject(face.sighting_id, "penny")
        assert rejected.rejected.name == face.name and rejected.relabelled is not None
        assert rejected.relabelled.identity.name == "penny" and rejected.negative_id > 0
        named = (await client.recognize(faces.person("amy", 2).read_bytes(), source="camera.garden")).faces[0]
        assert named.name == "amy"
        last = {p.name: p for p in await client.people_seen()}
        assert last["amy"].source == "camera.garden" and last["amy"].last_seen.tzinfo is not None
        with pytest.raises(NotFound):
            await client.label_cluster(999, "x")
        with pytest.raises(NotFound):
            await client.reject(999)
        people = await client.list_identities()
        assert all(p.kind == "person" and p.avatar_face_id is not None for p in people)
