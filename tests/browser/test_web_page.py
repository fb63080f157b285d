"""The web page as a new user meets it, in headless Chromium, against the real server.

The tests run in order, as one visit: sign in with the key on a direct
visit; then, through the ingress path prefix, teach a person by uploading
photos (one with several faces: click the right box), name a stranger the
cameras saw from the Review page with the keyboard, correct a wrong name with
"Not this person", delete a sample, read the status; every page at phone
width; and no request ever left the ingress prefix.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import PHONE, Browser, api, expect_console, recognize
from tests.browser.ingress import IngressProxy
from tests.reliability.conftest import API_KEY, Server
from tests.support import FACES_DIR as FACES

PEOPLE = FACES / "people"
GROUP = FACES / "groups" / "bbt3.jpg"
CAMERA = "camera.front_door"


def people_named(server: Server) -> dict[str, dict[str, object]]:
    listing = api(server, "GET", "/v1/database/list")
    return {identity["name"]: identity for identity in listing["identities"]}


def person_url(ingress: IngressProxy, name: str) -> str:
    return ingress.url + "person?" + urllib.parse.urlencode({"name": name})


@expect_console("status of 401")
def test_a_direct_visit_asks_for_the_api_key(browser: Browser, server: Server) -> None:
    browser.open(server.url + "/people")
    assert browser.find("h1").text == "Sign in"
    key = browser.find("#api-key")
    assert key.get_attribute("type") == "password"
    key.send_keys("not the key", Keys.ENTER)
    browser.wait(lambda: "That is not the API key." in browser.text(), "the wrong key to be refused")
    browser.screenshot("login-wrong-key")

    browser.find("#api-key").send_keys(API_KEY, Keys.ENTER)
    browser.wait(lambda: browser.driver.current_url == server.url + "/people", "the page that asked for the key")
    browser.visible("#people-empty")
    cookie = browser.driver.get_cookie("hailo_face_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    browser.find(".signout button").click()
    browser.wait(lambda: browser.find("h1").text == "Sign in", "the key form after signing out")
    assert browser.driver.get_cookie("hailo_face_session") is None


@expect_console("status of 409")
def test_teach_by_uploading_photos(browser: Browser, server: Server, ingress: IngressProxy) -> None:
    browser.open(ingress.url + "people")
    browser.visible("#people-empty")
    browser.find("#new-name").send_keys("Penny")
    browser.find("#photos").send_keys(str(PEOPLE / "penny" / "penny1.png"))
    browser.toast("Penny: 1 photo added.")
    card = browser.visible('.person-card[data-person="Penny"]')
    assert "1 sample" in card.text
    browser.wait(lambda: browser.images_loaded('.person-card[data-person="Penny"] img.avatar'), "Penny's avatar")
    browser.screenshot("people")

    # Her page; a group photo: the boxes of its five faces, click hers.
    card.find_element(By.LINK_TEXT, "Penny").click()
    browser.wait(lambda: browser.find("h1").text == "Penny", "Penny's page")
    browser.find("#photos").send_keys(str(GROUP))
    browser.visible("#picker .box")
    browser.wait(lambda: browser.images_loaded("#picker-photo img"), "the group photo")
    boxes = browser.find_all("#picker .box")
    assert [b.get_attribute("aria-label") for b in boxes] == [f"Face {i} of 5" for i in range(1, 6)]
    browser.screenshot("person-pick-a-face")
    penny = json.loads((FACES / "groups" / "labels.json").read_text())["bbt3.jpg"][2]
    assert penny["name"] == "penny"
    index = browser.driver.execute_script(
        "const img = document.querySelector('#picker-photo img'), r = img.getBoundingClientRect();"
        "const [x, y] = arguments[0];"
        "return [...document.querySelectorAll('#picker .box')].findIndex((b) => {"
        "  const q = b.getBoundingClientRect(), sx = r.width / img.naturalWidth, sy = r.height / img.naturalHeight;"
        "  const px = r.left + x * sx, py = r.top + y * sy;"
        "  return q.left <= px && px <= q.right && q.top <= py && py <= q.bottom;"
        "});",
        penny["center"],
    )
    assert index >= 0
    boxes[index].click()
    browser.toast("1 photo added to Penny.")
    browser.wait(lambda: len(browser.find_all("#samples .tile")) == 2, "two samples")
    browser.wait(lambda: browser.images_loaded("#samples img"), "the samples' crops")
    assert people_named(server)["Penny"]["faces"] == 2
    # The sample from the group photo is Penny: the server names her in it.
    named = [f["name"] for f in recognize(server, GROUP)["faces"]]
    assert "Penny" in named
    browser.screenshot("person")


def test_name_a_stranger_from_review_with_the_keyboard(browser: Browser, server: Server, ingress: IngressProxy) -> None:
    # Home Assistant scans the door camera while Stuart stands there.
    for n in (2, 3, 4, 5):
        face = recognize(server, PEOPLE / "stuart" / f"stuart{n}.png", source=CAMERA)["faces"][0]
        assert face["name"] is None and face["sighting_id"] is not None

    browser.open(ingress.url)
    browser.visible(".cluster input[type=checkbox]")
    browser.wait(lambda: browser.images_loaded(".cluster img"), "the clusters' crops")
    clusters = browser.find_all(".cluster")
    assert all(CAMERA in cluster.text for cluster in clusters)
    browser.screenshot("review")

    # Keyboard only: select each group of his faces, open "This is…", type, Enter.
    for n, checkbox in enumerate(browser.find_all(".cluster input[type=checkbox]"), start=1):
        browser.driver.execute_script("arguments[0].focus()", checkbox)
        checkbox.send_keys(Keys.SPACE)
        expected = f"{n} group{'s' if n > 1 else ''} selected"
        browser.wait(lambda expected=expected: browser.find("#selection").text == expected, expected)
    label = browser.find("#label-selected")
    browser.driver.execute_script("arguments[0].focus()", label)
    label.send_keys(Keys.ENTER)
    name = browser.visible("#name-input")
    assert browser.driver.switch_to.active_element == name
    browser.wait(
        lambda: "Penny" in [o.get_attribute("value") for o in browser.find_all("#known-names option")],
        "the known names for type-ahead",
    )
    name.send_keys("Stuart", Keys.ENTER)
    browser.toast("that is Stuart")
    browser.wait(lambda: not browser.find_all(".cluster"), "the cluster to leave the review")

    # The next time the camera sees him, he is named.
    face = recognize(server, PEOPLE / "stuart" / "stuart1.png", source=CAMERA)["faces"][0]
    assert face["name"] == "Stuart"


def test_not_this_person_and_this_is(browser: Browser, server: Server, ingress: IngressProxy) -> None:
    # A lenient threshold makes the server name Amy as someone she is not.
    amy = PEOPLE / "amy" / "amy1.png"
    wrong = recognize(server, amy, source="camera.garden", recognition_threshold="0")["faces"][0]
    assert wrong["name"] in ("Penny", "Stuart")
    sighting = wrong["sighting_id"]

    browser.open(ingress.url + "activity")
    row = browser.visible(f'.sighting[data-sighting="{sighting}"]')
    assert wrong["name"] in row.text and "camera.garden" in row.text
    browser.screenshot("activity")
    row.find_element(By.XPATH, ".//button[text()='Not this person']").click()
    browser.toast(f"that was not {wrong['name']}")
    again = recognize(server, amy, source="camera.garden", recognition_threshold="0")["faces"][0]
    assert again["name"] != wrong["name"]

    # The filter by camera, then "This is…" on her unknown face: she is Amy from now on.
    select = browser.find("#filter-source")
    select.find_element(By.CSS_SELECTOR, 'option[value="camera.garden"]').click()
    browser.wait(lambda: "source=camera.garden" in browser.driver.current_url, "the filter in the address")
    browser.wait(
        lambda: all("camera.garden" in r.text for r in browser.find_all(".sighting")) and browser.find_all(".sighting"),
        "only the garden camera's faces",
    )
    row = browser.visible(f'.sighting[data-sighting="{sighting}"]')
    assert "Unknown" in row.text
    row.find_element(By.XPATH, ".//button[text()='This is…']").click()
    browser.visible("#name-input").send_keys("Amy", Keys.ENTER)
    browser.toast("that is Amy")
    assert people_named(server)["Amy"]["faces"] == 1
    assert recognize(server, amy, source="camera.garden")["faces"][0]["name"] == "Amy"
    rejected = people_named(server)[wrong["name"]]["negatives"]
    assert [n["sighting_id"] for n in rejected] == [sighting]  # type: ignore[index]


def test_delete_a_sample_and_see_the_negatives(browser: Browser, server: Server, ingress: IngressProxy) -> None:
    rejected = next(name for name, p in people_named(server).items() if p["negatives"])
    browser.open(person_url(ingress, rejected))
    browser.visible("#negatives .tile")
    browser.wait(lambda: browser.images_loaded("#negatives img"), "the rejected face's crop")

    browser.open(person_url(ingress, "Penny"))
    tiles = browser.wait(lambda: browser.find_all("#samples .tile"), "Penny's samples")
    assert len(tiles) == 2
    doomed = tiles[1].get_attribute("data-face")
    tiles[1].find_element(By.TAG_NAME, "button").click()
    browser.toast("Penny has 1 left")
    browser.wait(lambda: len(browser.find_all("#samples .tile")) == 1, "one sample left")
    samples = people_named(server)["Penny"]["samples"]
    assert [str(s["id"]) for s in samples] != [doomed] and len(samples) == 1  # type: ignore[arg-type]


def test_status_page(browser: Browser, server: Server, ingress: IngressProxy) -> None:
    browser.open(ingress.url + "status")
    browser.wait(lambda: "Backend" in browser.text() and "cpu" in browser.text(), "the backend")
    text = browser.text()
    for fact in ("ok", "Version", "0.1.0", "People", "Samples", "Sightings", "Unknown groups", "Queue"):
        assert fact in text
    browser.screenshot("status")


def test_every_page_at_phone_width(browser: Browser, ingress: IngressProxy) -> None:
    browser.size(*PHONE)
    try:
        for page in ("", "activity", "people", "person?name=Penny", "status"):
            browser.open(ingress.url + page)
            browser.wait(
                lambda: browser.find("[aria-busy]").get_attribute("aria-busy") == "false", f"{page or 'review'} to load"
            )
            width = browser.driver.execute_script("return document.documentElement.scrollWidth")
            assert width <= PHONE[0], f"{page or 'review'} is {width} px wide at {PHONE[0]} px"
            nav = browser.find("nav[aria-label=Pages]")
            assert nav.is_displayed() and len(nav.find_elements(By.TAG_NAME, "a")) == 4
            browser.screenshot(f"phone-{page.split('?')[0] or 'review'}")
    finally:
        browser.size(1280, 900)


def test_dark_mode_follows_the_system(browser: Browser, ingress: IngressProxy) -> None:
    browser.driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    )
    try:
        for page in ("people", "person?name=Penny"):
            browser.open(ingress.url + page)
            browser.wait(lambda: browser.find("[aria-busy]").get_attribute("aria-busy") == "false", "the page")
            background = browser.driver.execute_script("return getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(17, 17, 17)"
            browser.screenshot(f"dark-{page.split('?')[0]}")
    finally:
        browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_controls_are_labelled(browser: Browser, ingress: IngressProxy) -> None:
    """Every button, input and select has a name a screen reader can read."""
    for page in ("", "activity", "people", "person?name=Penny", "status"):
        browser.open(ingress.url + page)
        browser.wait(lambda: browser.find("[aria-busy]").get_attribute("aria-busy") == "false", "the page")
        unnamed = browser.driver.execute_script(
            "return [...document.querySelectorAll('button, input:not([type=hidden]), select, a, img')]"
            ".filter((e) => e.checkVisibility() || e.id === 'photos')"
            ".filter((e) => {"
            "  if (e.tagName === 'IMG') return !e.hasAttribute('alt');"
            "  const labels = e.labels ? [...e.labels].map((l) => l.textContent).join('') : '';"
            "  const label = e.getAttribute('aria-label') || labels || e.textContent;"
            "  return !label || !label.trim();"
            "}).map((e) => e.outerHTML.slice(0, 120));"
        )
        assert unnamed == [], page


def test_the_pages_stayed_under_the_ingress_prefix(ingress: IngressProxy) -> None:
    assert ingress.forwarded, "nothing went through the ingress proxy"
    assert ingress.outside_prefix == []
    assert {path.split("?")[0] for path in ingress.forwarded} >= {
        "/",
        "/people",
        "/activity",
        "/status",
        "/person",
        "/v1/clusters",
        "/v1/database/add",
        "/static/common.js",
    }


def test_screenshots_were_kept() -> None:
    from tests.browser.conftest import OUTPUT

    for name in ("people", "person", "person-pick-a-face", "review", "activity", "status", "phone-review"):
        assert (OUTPUT / f"{name}.png").stat().st_size > 5000, name
    assert Path(OUTPUT).is_dir()
