"""The Hailo backend's real code path on the fake HailoRT (tests/fakes), through the HTTP API."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from PIL import Image

from hailo_face_server.app import create_app
from hailo_face_server.backends import create_backend
from hailo_face_server.backends.hailo import HailoBackend
from hailo_face_server.unavailable import BackendUnavailable
from tests.server import hailo_fake
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
    for variable in ("HAILO_FAKE_DRIVER", "HAILO_FAKE_HANG_AFTER", "HAILO_FAKE_HELD", "HAILO_FAKE_ASYNC_QUEUE_SIZE"):
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


async def test_teaching_and_recognising_run_end_to_end_on_the_npu(
    aiohttp_client: Any, fake_hailo: Path, tmp_path: Path, faces: Faces
) -> None:
    # Plumbing only: the fake's networks are dlib's, so accuracy measured here would be dlib's.
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
    for name in PEOPLE:
        body = await (await client.post("/v1/recognize", json=image_json(faces.person(name, 1)))).json()
        assert [face["name"] for face in body["faces"]] == [name]
        assert body["faces"][0]["similarity"] > 0.99  # the same photograph, the same vector


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
    ("arch", "version", "release", "detector"),
    [
        ("HAILO8", "4.21.0", "v2.15.0", "scrfd_10g"),
        ("HAILO8L", "4.21.0", "v2.15.0", "scrfd_2.5g"),
        ("HAILO8", "4.23.0", "v2.17.0", "scrfd_10g"),
        ("HAILO8L", "4.20.0", "v2.14.0", "scrfd_2.5g"),
        ("HAILO10H", "5.1.1", "v5.1.0", "scrfd_10g"),
        ("HAILO10H", "5.2.0", "v5.2.0", "scrfd_10g"),
    ],
)
def test_each_chip_gets_the_hefs_of_the_model_zoo_release_for_its_hailort(
    fake_hailo: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    arch: str,
    version: str,
    release: str,
    detector: str,
) -> None:
    import hailo_platform

    monkeypatch.setenv("HAILO_FAKE_ARCH", arch)
    monkeypatch.setattr(hailo_platform, "__version__", version)
    backend = HailoBackend(make_config(tmp_path, hailo__model_dir=str(fake_hailo)).hailo)
    try:
        assert backend.info.extra["chip"] == arch
        assert backend.info.extra["detection_hef"] == str(fake_hailo / release / arch.lower() / f"{detector}.hef")
    finally:
        backend.close()


def test_a_hailo_10h_that_hailort_5_1_calls_hailo15h_runs_as_a_hailo_10h(
    fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import hailo_platform

    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO10H")
    monkeypatch.setattr(hailo_platform, "__version__", "5.1.1")
    device = hailo_platform.VDevice()
    devices = device.get_physical_devices()
    assert devices[0].control.identify().device_architecture.name == "HAILO15H"  # what 5.1.x reports
    device.release()
    backend = HailoBackend(make_config(tmp_path, hailo__model_dir=str(fake_hailo)).hailo)
    try:
        assert (backend.info.extra["chip"], backend.info.extra["chip_reported"]) == ("HAILO10H", "HAILO15H")
        assert backend.info.extra["recognition_hef"] == str(fake_hailo / "v5.1.0/hailo10h/arcface_mobilefacenet.hef")
    finally:
        backend.close()


def test_the_chip_is_identified_with_its_device_kept_alive(fake_hailo: Path) -> None:
    import hailo_platform
    from hailo_platform.pyhailort.pyhailort import HailoRTInvalidOperationException

    vdevice = hailo_platform.VDevice()
    try:
        # pyhailort's own trap, which the fake reproduces: the temporary Device is
        # collected before identify() runs and takes the native device with it.
        with pytest.raises(HailoRTInvalidOperationException, match="one-liner usage of control"):
            vdevice.get_physical_devices()[0].control.identify()
    finally:
        vdevice.release()
    backend = HailoBackend(make_config(fake_hailo.parent, hailo__model_dir=str(fake_hailo)).hailo)
    try:
        assert backend.info.extra["chip"] == "HAILO8"
        assert backend.info.extra["firmware"].startswith("4.21.0")
    finally:
        backend.close()


def test_the_model_zoo_release_follows_the_installed_hailort(
    fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import hailo_platform

    monkeypatch.setattr(hailo_platform, "__version__", "4.18.0")
    unknown = hailo_error(tmp_path, hailo__model_dir=str(fake_hailo))
    assert "HailoRT 4.18.0 is not one Hailo Face knows the Model Zoo release for" in unknown
    assert "4.21.x" in unknown and "hailo.detection_hef" in unknown
    # Explicit HEFs need no release: they work under any HailoRT.
    detection = hailo_fake.write_hef(tmp_path / "mine/scrfd.hef", "scrfd_10g", "hailo8", "4.18")
    recognition = hailo_fake.write_hef(tmp_path / "mine/arcface.hef", "arcface_mobilefacenet", "hailo8", "4.18")
    HailoBackend(
        make_config(tmp_path, hailo__detection_hef=str(detection), hailo__recognition_hef=str(recognition)).hailo
    ).close()


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
        "https://hailo-model-zoo.s3.eu-west-2.amazonaws.com/ModelZoo/Compiled/v2.15.0/hailo8/scrfd_10g.hef" in missing
    )
    assert f"to {tmp_path / 'empty'}/v2.15.0/hailo8/scrfd_10g.hef" in missing

    hailo_fake.write_hef(tmp_path / "h8.hef", "scrfd_10g", "hailo8")
    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO8L")
    wrong_chip = hailo_error(tmp_path, hailo__model_dir=models, hailo__detection_hef=str(tmp_path / "h8.hef"))
    assert "compiled for another chip" in wrong_chip and "HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE" in wrong_chip
    monkeypatch.setenv("HAILO_FAKE_ARCH", "HAILO8")

    # A HEF of Model Zoo v2.17 (HailoRT 4.23) under HailoRT 4.21, the driver HAOS ships.
    hailo_fake.write_hef(tmp_path / "newer.hef", "scrfd_10g", "hailo8", "4.23")
    newer = hailo_error(tmp_path, hailo__model_dir=models, hailo__detection_hef=str(tmp_path / "newer.hef"))
    assert "HAILO_HEF_NOT_SUPPORTED" in newer
    assert "use the Model Zoo release that matches HailoRT 4.21.0" in newer

    (tmp_path / "junk.hef").write_bytes(b"\x00not a hef")
    junk = hailo_error(tmp_path, hailo__model_dir=models, hailo__detection_hef=str(tmp_path / "junk.hef"))
    assert "HAILO_INVALID_HEF" in junk and "Delete it and download" in junk

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
    assert "another program holds the Hailo" not in absent

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
    assert health["fallback"]["code"] == "no_device"
    assert "HAILO_OUT_OF_PHYSICAL_DEVICES" in health["fallback"]["reason"]
    assert "using the CPU backend instead" in caplog.text


async def test_a_hailo_held_by_another_app_falls_back_to_the_cpu_and_says_so(
    aiohttp_client: Any, fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("HAILO_FAKE_HELD", "1")  # e.g. Frigate runs on it
    client = await start_server(aiohttp_client, tmp_path, fake_hailo, face_recognition__backend="auto")
    health = await health_of(client)
    assert (health["status"], health["backend"]) == ("ok", "cpu")
    assert health["fallback"]["code"] == "device_busy"
    reason = health["fallback"]["reason"]
    assert "another program holds the Hailo (HAILO_OUT_OF_PHYSICAL_DEVICES)" in reason
    assert "Frigate" in reason and "hailo.multi_process_service" in reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "CPU backend instead" in r.message]
    assert warnings and "another program holds the Hailo" in warnings[0].getMessage()

    held = hailo_error(tmp_path, hailo__model_dir=str(fake_hailo))
    assert held == reason  # backend: hailo fails with the same sentence


def test_the_multi_process_service_is_asked_for_when_configured(fake_hailo: Path, tmp_path: Path) -> None:
    for wanted in (False, True):
        config = make_config(tmp_path, hailo__model_dir=str(fake_hailo), hailo__multi_process_service=wanted)
        backend = HailoBackend(config.hailo)
        try:
            assert backend.runtime._vdevice.params.multi_process_service is wanted
        finally:
            backend.close()


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
    metrics = await (await client.get("/metrics")).text()
    assert 'hailo_face_backend_errors_total{kind="timeout"} 1.0' in metrics
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

    site = fake_hailo  # laid out as the Model Zoo: <release>/<chip>/<model>.hef
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
    downloaded = sorted(p.name for p in (model_dir / "v2.15.0/hailo8l").iterdir())
    assert downloaded == ["arcface_mobilefacenet.hef", "scrfd_2.5g.hef"]
    assert f"Downloading the hailo8l model scrfd_2.5g from {model_zoo}/v2.15.0/hailo8l/scrfd_2.5g.hef" in caplog.text
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
    assert f"Cannot download {model_zoo}/missing/v2.15.0/hailo8/scrfd_10g.hef: HTTP 404" in message
    assert f"Put the file at {model_dir}/v2.15.0/hailo8/scrfd_10g.hef by hand" in message
    assert [p for p in model_dir.rglob("*") if p.is_file()] == []


def mosaic(faces: Faces, count: int) -> bytes:
    """One JPEG with ``count`` portraits side by side in two rows, one face each."""
    portraits = [faces.person(name, number) for number in (1, 2) for name in PEOPLE][:count]
    columns = (count + 1) // 2
    canvas = Image.new("RGB", (150 * columns, 300), (90, 90, 90))
    for i, path in enumerate(portraits):
        canvas.paste(Image.open(path).convert("RGB"), (150 * (i % columns), 150 * (i // columns)))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=95)
    return out.getvalue()


async def test_more_faces_than_the_async_queue_are_embedded_in_chunks(
    aiohttp_client: Any, fake_hailo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, faces: Faces
) -> None:
    monkeypatch.setenv("HAILO_FAKE_ASYNC_QUEUE_SIZE", "4")
    client = await start_server(aiohttp_client, tmp_path, fake_hailo, face_recognition__max_faces=20)
    image = base64.b64encode(mosaic(faces, 10)).decode("ascii")
    response = await client.post("/v1/embed", json={"image": image})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert len(body["faces"]) == 10
    vectors = np.array([face["embedding"] for face in body["faces"]])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert len({tuple(np.round(v, 3)) for v in vectors}) == 10  # every face its own vector, none left over
    again = await client.post("/v1/embed", json={"image": image})
    assert again.status == 200  # the configured model was not shut down
    assert (await health_of(client))["status"] == "ok"


def test_the_fake_shuts_a_model_down_when_its_queue_overflows(fake_hailo: Path) -> None:
    import hailo_platform
    from hailo_platform.pyhailort.pyhailort import HailoRTException, HailoRTStreamAborted

    vdevice = hailo_platform.VDevice()
    try:
        model = vdevice.create_infer_model(str(fake_hailo / "v2.15.0/hailo8/arcface_mobilefacenet.hef"))
        model.output().set_format_type(hailo_platform.FormatType.FLOAT32)
        configured = model.configure()
        assert configured.get_async_queue_size() == 4
        bindings = []
        for _ in range(5):
            binding = configured.create_bindings(output_buffers={model.outputs[0].name: np.empty(512, np.float32)})
            binding.input().set_buffer(np.zeros((112, 112, 3), np.uint8))
            bindings.append(binding)
        with pytest.raises(HailoRTException, match="HAILO_QUEUE_IS_FULL"):
            configured.run(bindings, 1000)
        with pytest.raises(HailoRTStreamAborted):
            configured.run(bindings[:1], 1000)
    finally:
        vdevice.release()


async def test_the_detector_sees_the_frame_on_hailos_letterbox_grey(
    aiohttp_client: Any, fake_hailo: Path, tmp_path: Path, faces: Faces
) -> None:
    from hailo_platform.pyhailort import pyhailort

    client = await start_server(aiohttp_client, tmp_path, fake_hailo)
    response = await client.post("/v1/detect", json=image_json(faces.group("bbt3.jpg")))  # 594 x 383: bars above/below
    assert response.status == 200
    frame = pyhailort.last_inputs["scrfd_10g"]
    assert frame.shape == (640, 640, 3)
    assert (frame[:100] == 114).all() and (frame[-100:] == 114).all()
    assert not (frame[320] == 114).all()
