"""Run the integration in a real Home Assistant against a real server, as a user would.

    .venv/bin/python scripts/ha_demo.py    (after ./scripts/test has made .venv)

Starts hailo-face-server and ``hass -c <temporary config>`` with
custom_components/hailo_face linked in, creates a user, adds a Local File
camera and Hailo Face through their config flows (the REST API the UI uses),
teaches a face with the hailo_face.teach action, points the camera at other
photographs, calls image_processing.scan and prints the detect_face events
that arrive on the websocket.  Needs ../shared/faces.  Nothing is kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("TEST_FACES_DIR", ROOT.parent / "shared" / "faces"))
BIN = Path(sys.executable).parent
API_KEY = "demo-api-key"
USER, PASSWORD = "demo", "demo-password-1234"
CLIENT_ID = "http://127.0.0.1/"
ENTITY = "image_processing.hailo_face_front_door_faces"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(config_dir: Path, http_port: int) -> None:
    (config_dir / "custom_components").mkdir(parents=True)
    (config_dir / "custom_components" / "hailo_face").symlink_to(ROOT / "custom_components" / "hailo_face")
    (config_dir / "configuration.yaml").write_text(
        "homeassistant:\n"
        "  name: Hailo Face demo\n"
        f"  allowlist_external_dirs: [{FACES}]\n"
        f"http:\n  server_host: 127.0.0.1\n  server_port: {http_port}\n"
        "api:\nauth:\nconfig:\nwebsocket_api:\n"
        "logger:\n  default: warning\n  logs:\n    custom_components.hailo_face: debug\n"
    )


async def wait_for(url: str, session: aiohttp.ClientSession, seconds: float, ok: tuple[int, ...]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as response:
                if response.status in ok:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.5)
    raise SystemExit(f"{url} did not come up within {seconds} s")


async def sign_in(session: aiohttp.ClientSession, base: str, client_id: str = CLIENT_ID) -> dict[str, Any]:
    """The demo user's tokens, through the login flow a client (or the frontend) uses."""
    flow = await (
        await session.post(
            f"{base}/auth/login_flow",
            json={"client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": client_id},
        )
    ).json()
    done = await (
        await session.post(
            f"{base}/auth/login_flow/{flow['flow_id']}",
            json={"client_id": client_id, "username": USER, "password": PASSWORD},
        )
    ).json()
    tokens: dict[str, Any] = await (
        await session.post(
            f"{base}/auth/token",
            data={"grant_type": "authorization_code", "code": done["result"], "client_id": client_id},
        )
    ).json()
    return tokens


async def token(session: aiohttp.ClientSession, base: str) -> str:
    return str((await sign_in(session, base))["access_token"])


async def config_flow(session: aiohttp.ClientSession, base: str, handler: str, *steps: dict[str, Any]) -> Any:
    result = await (await session.post(f"{base}/api/config/config_entries/flow", json={"handler": handler})).json()
    print(f"  {handler}: step {result.get('step_id')}")
    for data in steps:
        result = await (
            await session.post(f"{base}/api/config/config_entries/flow/{result['flow_id']}", json=data)
        ).json()
        print(f"  {handler}: {result.get('step_id') or result.get('type')} {result.get('errors') or ''}")
    return result


async def demo(base: str, server_url: str, last_photo: str | None = None) -> None:  # noqa: PLR0915 (one user's session)
    async with aiohttp.ClientSession() as anonymous:
        access = await token(anonymous, base)
    headers = {"Authorization": f"Bearer {access}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        print("Config flows:")
        await config_flow(
            session, base, "local_file", {"name": "Front door", "file_path": str(FACES / "groups" / "no_face.png")}
        )
        created = await config_flow(
            session,
            base,
            "hailo_face",
            {"url": server_url, "api_key": API_KEY},
            {"cameras": ["camera.front_door"]},
        )
        assert created["type"] == "create_entry", created
        await asyncio.sleep(2)
        states = await (await session.get(f"{base}/api/states")).json()
        print(
            "Entities:",
            sorted(s["entity_id"] for s in states if "hailo_face" in s["entity_id"] or "front_door_" in s["entity_id"]),
        )

        async def call(domain: str, service: str, data: dict[str, Any], response: bool = False) -> Any:
            url = f"{base}/api/services/{domain}/{service}" + ("?return_response" if response else "")
            async with session.post(url, json=data) as answer:
                body = await answer.json()
                if answer.status != 200:
                    raise SystemExit(f"{domain}.{service} failed: {answer.status} {body}")
                return body

        penny = str(FACES / "people/penny/penny1.png")
        taught = await call("hailo_face", "teach", {"name": "Penny", "file": penny}, response=True)
        print("Taught:", json.dumps(taught["service_response"]["identity"]))
        async with session.ws_connect(f"{base}/api/websocket") as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": access})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "image_processing.detect_face"})
            await ws.receive_json()

            async def entity(entity_id: str) -> dict[str, Any]:
                found: dict[str, Any] = await (await session.get(f"{base}/api/states/{entity_id}")).json()
                return found

            states = await (await session.get(f"{base}/api/states")).json()
            print("Penny's device:", sorted(s["entity_id"] for s in states if "penny" in s["entity_id"]))
            print("Penny's last seen before:", (await entity("sensor.penny_last_seen"))["state"])
            # Penny stays at the door for three scans, then a group passes.
            photos = ("people/penny/penny2.png",) * 3 + ("groups/bbt3.jpg",) + ((last_photo,) if last_photo else ())
            for photo in photos:
                camera = {"entity_id": "camera.front_door", "file_path": str(FACES / photo)}
                await call("local_file", "update_file_path", camera)
                await call("image_processing", "scan", {"entity_id": ENTITY})
                state = await entity(ENTITY)
                print(f"Camera shows {photo}: state {state['state']!r}, {state['attributes']['total_faces']} faces")
                try:
                    while True:
                        message = await asyncio.wait_for(ws.receive_json(), 3)
                        print("  detect_face event:", json.dumps(message["event"]["data"]))
                except TimeoutError:
                    pass
                face_event = await entity("event.front_door_face")
                attributes = face_event["attributes"]
                print(
                    f"  event.front_door_face last fired {face_event['state']}: "
                    f"{attributes.get('event_type')} {attributes.get('name')!r} "
                    f"(sighting {attributes.get('sighting_id')})"
                )
            picture = (await entity("image.front_door_last_face"))["attributes"]["entity_picture"]
            async with session.get(f"{base}{picture}") as answer:
                jpeg = await answer.read()
            is_jpeg = jpeg[:2] == b"\xff\xd8"
            print(f"image.front_door_last_face serves {answer.content_type}, {len(jpeg)} bytes, JPEG: {is_jpeg}")
            seen = await entity("sensor.penny_last_seen")
            print("Penny's last seen after:", seen["state"], seen["attributes"].get("camera"))
            print("Penny seen recently:", (await entity("binary_sensor.penny_seen_recently"))["state"])
        listing = await call("hailo_face", "list", {}, response=True)
        print("Known:", [i["name"] for i in listing["service_response"]["identities"]])


def stop(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then a minute to finish, then SIGKILL."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    if not FACES.is_dir():
        raise SystemExit(f"the photographs are missing: {FACES}")
    work = Path(tempfile.mkdtemp(prefix="hailo-face-demo-"))
    config_dir = work / "ha"
    http_port, server_port = free_port(), free_port()
    write_config(config_dir, http_port)
    subprocess.run([BIN / "hass", "--script", "auth", "-c", config_dir, "add", USER, PASSWORD], check=True)
    server = subprocess.Popen(
        [BIN / "hailo-face-server", "--backend", "cpu", "--host", "127.0.0.1", "--port", str(server_port),
         "--api-key", API_KEY, "--data-dir", str(work / "server")],
    )  # fmt: skip
    hass = subprocess.Popen([BIN / "hass", "-c", config_dir], stdout=subprocess.DEVNULL)
    try:

        async def run() -> None:
            async with aiohttp.ClientSession() as session:
                await wait_for(f"http://127.0.0.1:{server_port}/health", session, 60, (200,))
                await wait_for(f"http://127.0.0.1:{http_port}/api/", session, 300, (200, 401))
            await demo(f"http://127.0.0.1:{http_port}", f"http://127.0.0.1:{server_port}")

        asyncio.run(run())
    finally:
        stop(hass, server)
        log = config_dir / "home-assistant.log"
        if log.exists():
            print("Home Assistant log (warnings and errors):")
            print(log.read_text()[-4000:])
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
