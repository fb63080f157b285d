"""The web page in headless Chromium (Debian's chromium and chromium-driver, driven by selenium).

One real server (the real CPU models) and one browser serve a whole module:
the tests follow each other as a user's visit does. The browser reaches the
pages through a stand-in for Home Assistant's ingress proxy (``ingress.py``)
or directly (the key form). Screenshots of every page, at desktop and phone
width, go to ``build/test-output/browser`` (or ``$TEST_OUTPUT_DIR``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.ingress import PROXY_ADDRESS, IngressProxy
from tests.reliability.conftest import API_KEY, Server

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("TEST_OUTPUT_DIR", ROOT / "build" / "test-output")) / "browser"
DEADLINE_S = 30.0
DESKTOP = (1280, 900)
PHONE = (360, 760)


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class Browser:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self.console: list[dict[str, Any]] = []

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.wait(lambda: self.driver.execute_script("return document.readyState") == "complete", "the page to load")

    def wait(self, condition: Callable[[], Any], what: str, seconds: float = DEADLINE_S) -> Any:
        def attempt(_driver: Any) -> Any:
            try:
                return condition()
            except StaleElementReferenceException:
                return False

        return WebDriverWait(self.driver, seconds, poll_frequency=0.05).until(attempt, f"waited for {what}")

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css: str) -> WebElement:
        def shown() -> WebElement | bool:
            found = [e for e in self.find_all(css) if e.is_displayed()]
            return found[0] if found else False

        element: WebElement = self.wait(shown, f"{css} to show")
        return element

    def text(self) -> str:
        return str(self.find("body").text)

    def toast(self, contains: str) -> None:
        self.wait(lambda: contains in self.find("#toasts").text, f"a message saying {contains!r}")

    def images_loaded(self, css: str) -> bool:
        return bool(
            self.driver.execute_script(
                "const all = [...document.querySelectorAll(arguments[0])];"
                "return all.length > 0 && all.every((i) => i.complete && i.naturalWidth > 0);",
                css,
            )
        )

    def screenshot(self, name: str) -> Path:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def size(self, width: int, height: int) -> None:
        self.driver.set_window_size(width, height)
        self.wait(lambda: self.driver.execute_script("return window.innerWidth") == width, f"a window {width} px wide")

    def read_console(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.driver.get_log("browser")
        self.console.extend(entries)
        return entries


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("browser") / "data"
    data.mkdir()
    started = Server(data, env={"HAILO_FACE_SERVER_INGRESS_PROXIES": PROXY_ADDRESS})
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def ingress(server: Server) -> Iterator[IngressProxy]:
    proxy = IngressProxy(upstream=server.url)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    found = _chromium()
    if found is None:
        message = "Chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    binary, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=en-US"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield Browser(driver)
    finally:
        driver.quit()


@pytest.fixture(autouse=True)
def no_console_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: no error in the page's console but the answers the test itself expects."""
    yield
    if "browser" not in request.fixturenames:
        return
    browser: Browser = request.getfixturevalue("browser")
    expected: tuple[str, ...] = getattr(request.node.function, "expected_console", ())
    errors = [
        e
        for e in browser.read_console()
        if e.get("level") == "SEVERE" and not any(pattern in e.get("message", "") for pattern in expected)
    ]
    assert errors == [], json.dumps(errors, indent=1)


def expect_console(*patterns: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark console messages a test provokes on purpose (e.g. the 409 of a photo with several faces)."""

    def mark(test: Callable[..., None]) -> Callable[..., None]:
        test.expected_console = patterns  # type: ignore[attr-defined]
        return test

    return mark


def api(server: Server, method: str, path: str, body: bytes | None = None, content_type: str = "") -> Any:
    """What Home Assistant's integration does: the API with the key."""
    headers = {"Content-Type": content_type} if content_type else {}
    status, answer = server.request(method, path, body, headers)
    assert status < 300, (status, answer)
    return answer


def recognize(server: Server, image: Path, **query: str) -> Any:
    kind = "image/png" if image.suffix == ".png" else "image/jpeg"
    return api(server, "POST", "/v1/recognize?" + urllib.parse.urlencode(query), image.read_bytes(), kind)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


__all__ = ["API_KEY", "Browser", "api", "expect_console", "recognize", "wait_for"]
