"""The Hailo backend's real code path on the fake HailoRT (tests/fakes), through the HTTP API."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hailo_face_server.app import create_app
from hailo_face_server.backends import create_backend
from hailo_face_server.backends.base import BackendUnavailable
from hailo_face_server.backends.hailo import HailoBackend
from tests.server import hailo_fake
from tests.server.test_recognition import label_of
from tests.support import PEOPLE, Faces, image_json, make_config

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def fake_hailo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A Hailo-8 with HailoRT 4.21.0 and the HEFs of every chip in a model folder."""
    hailo_fake.install()
    import hailo_platform
    from hailo_platform.pyhailort import pyhailort

    monkeypatch.setattr(hailo_platform, "__version__", "4.21.0")
    monkeypatch.setattr(pyhailort, "_runs", 0)
    for variable in ("HAILO_FAKE_DRIVER", "HAILO_FAKE_HANG_AFTER"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO8")
    return hailo_fake.write_model_dir(tmp_path / "models")


async def start_server(aiohttp_client: Any, data_dir: Path, model_dir: Path, **overrides: Any) -> Client:
    values = {"face_recognition__backend": "hailo", "hailo__model_dir": str(model_dir), **overrides}
    client: Client = await aiohttp_client(create_app(make_config(data_dir, **values), backend_factory=create_backend))
    for _ in range(600):
        health = await client.get("/health")
        if (await health.json())["status"] != "starting":
            break
        await asyncio.sleep(0.05)
    return client


async def health_of(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get("/health")).json()
    return body


async def test_people_are_recognised_on_the_npu(
    aiohttp_client: Any, fake_hailo: Path, tmp_path: Path, faces: Faces
) -> None:
    client = await start_server(aiohttp_client, tmp_path, fake_hailo)
    health = await health_of(client)
    assert health["status"] == "ok", health
    assert health["backend"] == "hailo"
    assert health["model_id"] == "arcface_mobilefacenet"
    assert health["backend_details"]["chip"] == "HAILO8"
    assert health["models"] == {"detector": "scrfd_10g", "embedder": "arcface_mobilefacenet"}
    for name in PEOPLE:
        response = await client.post("/v1/database/add", json=image_json(faces.person(name, 1), name=name))
        assert response.status == 201, await response.text()
    right, wrong = 0, []
    for name in PEOPLE:
        for number in range(2, 6):
            body = await (await client.post("/v1/recognize", json=image_json(faces.person(name, number)))).json()
            assert len(body["faces"]) <= 1
            found = body["faces"][0]["name"] if body["faces"] else None  # the fake's detector misses stuart5
            if found == name:
                right += 1
            elif found is not None:
                wrong.append((name, number, found))
    assert wrong == []
    assert right >= 31
    labels = faces.labels()
    for photo in ("bbt1.jpg", "bbt3.jpg"):
        body = await (await client.post("/v1/recognize", json=image_json(faces.group(photo)))).json()
        named = {label_of(face, labels[photo]): face["name"] for face in body["faces"]}
        assert named == {label["name"]: label["name"] for label in labels[photo]}


async def test_embed_returns_512_d_vectors(aiohttp_client: Any, fake_hailo: Path, tmp_path: Path, faces: Faces) -> None:
    client = await start_server(aiohttp_client, tmp_path, fake_hailo)
    body = await (await client.post("/v1/embed", json=image_json(faces.group("bbt3.jpg")))).json()
    assert body["model"] == "arcface_mobilefacenet"
    assert body["dim"] == 512
    assert len(body["faces"]) == 5
    assert all(len(face["embedding"]) == 512 for face in body["faces"])
    detect = await (await client.post("/v1/detect", json=image_json(faces.group("bbt3.jpg")))).json()
    assert len(detect["faces"]) == 5  # the duplicate anchors of each face were suppressed


@pytest.mark.parametrize(
    ("arch", "version", "detector"),
    [("HAILO8", "4.21.0", "scrfd_10g"), ("HAILO8L", "4.21.0", "scrfd_2.5g"), ("HAILO10H", "5.1.1", "scrfd_10g")],
)
def test_each_chip_gets_its_own_hefs(
    fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, arch: str, version: str, detector: str
) -> None:
    import hailo_platform

    monkeypatch.setenv("HAILO_FAKE_ARCH", arch)
    monkeypatch.setattr(hailo_platform, "__version__", version)
    backend = HailoBackend(make_config(tmp_path, hailo__model_dir=str(fake_hailo)).hailo)
    try:
        assert backend.info.extra["chip"] == arch
        assert backend.info.extra["detection_hef"] == str(fake_hailo / arch.lower() / f"{detector}.hef")
    finally:
        backend.close()


def hailo_error(tmp_path: Path, **overrides: Any) -> str:
    with pytest.raises(BackendUnavailable) as raised:
        HailoBackend(make_config(tmp_path, **overrides).hailo)
    return str(raised.value)


def test_clear_messages_for_what_users_get_wrong(
    fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import hailo_platform

    models = str(fake_hailo)
    missing = hailo_error(tmp_path, hailo__model_dir=str(tmp_path / "empty"))
    assert "Missing HEF" in missing
    assert (
        "https://hailo-model-zoo.s3.eu-west-2.amazonaws.com/ModelZoo/Compiled/v2.17.0/hailo8/scrfd_10g.hef" in missing
    )

    hailo_fake.write_hef(tmp_path / "h8.hef", "scrfd_10g", "hailo8")
    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO8L")
    wrong_chip = hailo_error(tmp_path, hailo__model_dir=models, hailo__detection_hef=str(tmp_path / "h8.hef"))
    assert "compiled for another chip" in wrong_chip and "HAILO_INVALID_HEF" in wrong_chip

    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO10H")
    assert "HAILO10H needs HailoRT 5.x, but HailoRT 4.21.0 is installed" in hailo_error(
        tmp_path, hailo__model_dir=models
    )

    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO8")
    monkeypatch.setenv("HAILO_FAKE_DRIVER", "4.20.0")
    mismatch = hailo_error(tmp_path, hailo__model_dir=models)
    assert "HAILO_INVALID_DRIVER_VERSION" in mismatch and "4.21.0" in mismatch

    monkeypatch.setenv("HAILO_FAKE_ARCH", "none")
    absent = hailo_error(tmp_path, hailo__model_dir=models)
    assert "HAILO_OUT_OF_PHYSICAL_DEVICES" in absent and "/dev/hailo0" in absent

    monkeypatch.setitem(sys.modules, "hailo_platform", None)
    assert "hailo_platform" in hailo_error(tmp_path, hailo__model_dir=models)
    assert hailo_platform  # the fake stays importable for the other tests


async def test_auto_falls_back_to_the_cpu_and_says_why(
    aiohttp_client: Any, fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("HAILO_FAKE_ARCH", "none")
    client = await start_server(aiohttp_client, tmp_path, fake_hailo, face_recognition__backend="auto")
    health = await health_of(client)
    assert health["status"] == "ok"
    assert health["backend"] == "cpu"
    assert health["fallback"]["from"] == "hailo"
    assert "HAILO_OUT_OF_PHYSICAL_DEVICES" in health["fallback"]["reason"]
    assert "using the CPU backend instead" in caplog.text


async def test_auto_uses_the_npu_when_it_works(aiohttp_client: Any, fake_hailo: Path, tmp_path: Path) -> None:
    client = await start_server(aiohttp_client, tmp_path, fake_hailo, face_recognition__backend="auto")
    health = await health_of(client)
    assert health["backend"] == "hailo"
    assert "fallback" not in health


async def test_an_explicit_hailo_backend_that_cannot_start_is_an_error(
    aiohttp_client: Any, fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAILO_FAKE_DRIVER", "4.20.0")
    client = await start_server(aiohttp_client, tmp_path, fake_hailo)
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "error"
    assert "HAILO_INVALID_DRIVER_VERSION" in body["error"]


async def test_a_device_timeout_marks_the_backend_unhealthy(
    aiohttp_client: Any, fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, faces: Faces
) -> None:
    client = await start_server(aiohttp_client, tmp_path, fake_hailo, hailo__timeout_ms=200)
    assert (await client.post("/v1/detect", json=image_json(faces.person("amy", 1)))).status == 200
    monkeypatch.setenv("HAILO_FAKE_HANG_AFTER", "0")
    response = await client.post("/v1/detect", json=image_json(faces.person("amy", 1)))
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "backend_error"
    assert "200 ms" in error["message"]
    health = await client.get("/health")
    assert health.status == 503
    body = await health.json()
    assert body["status"] == "degraded"
    assert "HAILO_TIMEOUT" in body["problem"]
    monkeypatch.delenv("HAILO_FAKE_HANG_AFTER")
    again = await client.post("/v1/detect", json=image_json(faces.person("amy", 1)))
    assert (await again.json())["error"]["code"] == "backend_error"  # a restart is needed


async def test_the_gallery_survives_a_move_from_cpu_to_hailo_and_back(
    aiohttp_client: Any, start_app: Any, fake_hailo: Path, tmp_path: Path, faces: Faces
) -> None:
    data_dir = tmp_path / "data"
    cpu = await start_app(data_dir)
    for name in PEOPLE:
        response = await cpu.post("/v1/database/add", json=image_json(faces.person(name, 1), name=name))
        assert response.status == 201
    await cpu.close()

    hailo = await start_server(aiohttp_client, data_dir, fake_hailo)
    health = await health_of(hailo)
    assert health["identities"] == 8
    for _ in range(600):
        health = await health_of(hailo)
        if not health["reembedding"]["running"]:
            break
        await asyncio.sleep(0.1)
    assert health["reembedding"] == {
        "model": "arcface_mobilefacenet",
        "total": 8,
        "done": 8,
        "failed": 0,
        "running": False,
    }
    assert (health["faces"], health["faces_pending"]) == (8, 0)
    listing = (await (await hailo.get("/v1/database/list")).json())["identities"]
    assert sorted(i["name"] for i in listing) == sorted(PEOPLE)
    assert all(s["usable"] and s["model"] == "dlib_resnet_v1" for i in listing for s in i["samples"])
    for name in PEOPLE:
        body = await (await hailo.post("/v1/recognize", json=image_json(faces.person(name, 2)))).json()
        assert body["faces"][0]["name"] == name
    taught_on_hailo = await hailo.post("/v1/database/add", json=image_json(faces.person("amy", 3), name="amy"))
    assert taught_on_hailo.status == 201
    await hailo.close()

    back_on_cpu = await start_app(data_dir)
    health = await health_of(back_on_cpu)
    assert health["faces"] + health["faces_pending"] == 9
    for _ in range(600):
        health = await health_of(back_on_cpu)
        if not health.get("reembedding", {}).get("running"):
            break
        await asyncio.sleep(0.1)
    assert (health["faces"], health["faces_pending"]) == (9, 0)


@pytest.fixture
def model_zoo(fake_hailo: Path) -> Iterator[str]:
    """A local stand-in for the Hailo Model Zoo, serving the fake HEFs by the same paths."""
    import functools
    import http.server
    import threading

    site = fake_hailo.parent / "zoo"
    for chip, version in (("hailo8", "v2.17.0"), ("hailo8l", "v2.17.0"), ("hailo10h", "v5.2.0")):
        (site / version).mkdir(parents=True, exist_ok=True)
        (fake_hailo / chip).rename(site / version / chip)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_missing_hefs_are_downloaded_once_when_allowed(
    fake_hailo: Path, model_zoo: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO8L")
    model_dir = tmp_path / "downloaded"
    config = make_config(
        tmp_path, hailo__model_dir=str(model_dir), hailo__download_missing=True, hailo__model_zoo_url=model_zoo
    ).hailo
    HailoBackend(config).close()
    assert sorted(p.name for p in (model_dir / "hailo8l").iterdir()) == ["arcface_mobilefacenet.hef", "scrfd_2.5g.hef"]
    assert f"Downloading the hailo8l model scrfd_2.5g from {model_zoo}/v2.17.0/hailo8l/scrfd_2.5g.hef" in caplog.text
    caplog.clear()
    HailoBackend(config).close()
    assert "Downloading" not in caplog.text


def test_a_failed_download_leaves_nothing_and_says_what_to_do(
    fake_hailo: Path, model_zoo: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO8")
    model_dir = tmp_path / "downloaded"
    message = hailo_error(
        tmp_path,
        hailo__model_dir=str(model_dir),
        hailo__download_missing=True,
        hailo__model_zoo_url=model_zoo + "/missing",
    )
    assert f"Cannot download {model_zoo}/missing/v2.17.0/hailo8/scrfd_10g.hef: HTTP 404" in message
    assert f"Put the file at {model_dir}/hailo8/scrfd_10g.hef by hand" in message
    assert list(model_dir.rglob("*")) == [model_dir / "hailo8"]
