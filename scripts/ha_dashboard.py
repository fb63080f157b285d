"""A screenshot of a real Home Assistant dashboard with Hailo Face's entities, in headless Chromium.

    .venv/bin/python scripts/ha_dashboard.py [OUT.png]    (after ./scripts/test has made .venv)

Does what scripts/ha_demo.py does (a real server, a real ``hass`` with this
integration, config flows, teach Penny, scans of a Local File camera), with
Home Assistant's frontend (the ``home-assistant-frontend`` release that Home
Assistant's own frontend manifest names, installed into .venv on first use:
about 90 MB) and a YAML dashboard: the door camera's last face, its face
event, and a card for Penny (avatar, last seen, last camera, seen recently).
Signs in as the demo user (the frontend keeps its tokens in localStorage, as
after a login) and saves a screenshot, by default docs/img/ha-dashboard.png.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from ha_demo import API_KEY, BIN, PASSWORD, ROOT, USER, demo, free_port, sign_in, stop, wait_for, write_config

DASHBOARD = """\
title: Home
views:
  - title: Home
    path: home
    type: panel
    cards:
      - type: grid
        columns: 3
        square: false
        cards:
          - type: picture-entity
            entity: image.front_door_last_face
            name: Front door · last face
            show_state: false
          - type: vertical-stack
            cards:
              - type: picture-entity
                entity: image.penny_avatar
                name: Penny
                show_state: false
                aspect_ratio: "2"
              - type: entities
                entities:
                  - sensor.penny_last_seen
                  - sensor.penny_last_camera
                  - binary_sensor.penny_seen_recently
          - type: entities
            title: Front door
            entities:
              - event.front_door_face
              - image_processing.hailo_face_front_door_faces
              - sensor.hailo_face_known_people
              - binary_sensor.hailo_face_server
"""


def ensure_frontend() -> None:
    try:
        import hass_frontend  # noqa: F401
    except ImportError:
        manifest = Path(sys.modules["homeassistant"].__file__ or "").parent / "components/frontend/manifest.json"
        requirement = next(r for r in json.loads(manifest.read_text())["requirements"] if "frontend" in r)
        print(f"Installing {requirement} (Home Assistant's frontend) into {sys.prefix}")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True)


# Without the app (no Supervisor, so no ingress) the server's page goes in the sidebar as a
# Webpage dashboard; the server lets Home Assistant's origin frame it (server.allowed_origins).
FACES_PANEL = """\
title: Faces
views:
  - title: Faces
    path: faces
    type: panel
    cards:
      - type: iframe
        url: {url}/
        aspect_ratio: "60%"
"""


def write_dashboard(config_dir: Path, server_url: str) -> None:
    with (config_dir / "configuration.yaml").open("a") as config:
        config.write(
            "frontend:\nlovelace:\n  mode: yaml\n  dashboards:\n    hailo-faces:\n      mode: yaml\n"
            "      filename: faces.yaml\n      title: Faces\n      icon: mdi:face-recognition\n"
            "      show_in_sidebar: true\n"
        )
    (config_dir / "ui-lovelace.yaml").write_text(DASHBOARD)
    (config_dir / "faces.yaml").write_text(FACES_PANEL.format(url=server_url))
    storage = config_dir / ".storage"
    storage.mkdir(exist_ok=True)
    done = ["user", "core_config", "analytics", "integration"]
    onboarding = {"version": 4, "minor_version": 1, "key": "onboarding", "data": {"done": done}}
    (storage / "onboarding").write_text(json.dumps(onboarding))


async def frontend_tokens(base: str) -> dict[str, object]:
    """Tokens for the frontend's own client id, as its login page would get them."""
    async with aiohttp.ClientSession() as session:
        tokens: dict[str, object] = await sign_in(session, base, client_id=f"{base}/")
    tokens.update(hassUrl=base, clientId=f"{base}/", expires=int(time.time() * 1000) + 1800 * 1000)
    return tokens


def screenshot(base: str, tokens: dict[str, object], out: Path, server_url: str) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,640"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    try:
        driver.get(f"{base}/auth/authorize")  # any page of this origin, to reach its localStorage
        driver.execute_script("localStorage.setItem('hassTokens', arguments[0]);", json.dumps(tokens))
        driver.get(f"{base}/lovelace/home")
        deadline = time.monotonic() + 60
        script = (
            "const deep = (root) => [...root.querySelectorAll('*')]"
            "  .flatMap((e) => e.shadowRoot ? [e, ...deep(e.shadowRoot)] : [e]);"
            "const images = deep(document).filter((e) => e.tagName === 'IMG' && e.src.includes('image_proxy'));"
            "return images.length >= 2 && images.every((i) => i.complete && i.naturalWidth > 0);"
        )
        while not driver.execute_script(script):
            if time.monotonic() > deadline:
                raise SystemExit("the dashboard's pictures did not load")
            time.sleep(0.5)
        time.sleep(1)  # the cards' fade-in
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
        print(f"Saved {out}")
        # The Faces page in the sidebar: sign in to the server once (its key form), then open the panel.
        driver.get(f"{server_url}/login")
        driver.find_element("id", "api-key").send_keys(API_KEY + "\n")
        while "Review" not in driver.title:
            if time.monotonic() > deadline + 60:
                raise SystemExit("could not sign in to the server's page")
            time.sleep(0.2)
        driver.get(f"{base}/hailo-faces/faces")
        time.sleep(6)  # the frame and its crops
        panel = out.with_name(out.stem + "-panel" + out.suffix)
        driver.save_screenshot(str(panel))
        print(f"Saved {panel}")
    finally:
        driver.quit()


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img" / "ha-dashboard.png"
    ensure_frontend()
    work = Path(tempfile.mkdtemp(prefix="hailo-face-dashboard-"))
    config_dir = work / "ha"
    http_port, server_port = free_port(), free_port()
    write_config(config_dir, http_port)
    server_url = f"http://127.0.0.1:{server_port}"
    write_dashboard(config_dir, server_url)
    subprocess.run([BIN / "hass", "--script", "auth", "-c", config_dir, "add", USER, PASSWORD], check=True)
    server = subprocess.Popen(
        [BIN / "hailo-face-server", "--backend", "cpu", "--host", "127.0.0.1", "--port", str(server_port),
         "--api-key", API_KEY, "--data-dir", str(work / "server"),
         "--set", f"server.allowed_origins=http://127.0.0.1:{http_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    hass = subprocess.Popen([BIN / "hass", "-c", config_dir], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http_port}"
    try:

        async def run() -> dict[str, object]:
            async with aiohttp.ClientSession() as session:
                await wait_for(f"http://127.0.0.1:{server_port}/health", session, 60, (200,))
                await wait_for(f"{base}/api/", session, 300, (200, 401))
            await demo(base, f"http://127.0.0.1:{server_port}", last_photo="people/penny/penny2.png")
            return await frontend_tokens(base)

        tokens = asyncio.run(run())
        screenshot(base, tokens, out, server_url)
    finally:
        stop(hass, server)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
