"""Fuzzing: corrupt images, bombs, odd numbers, names and bodies; every answer a 2xx or a stable 4xx.

A short run is part of ./scripts/test; FUZZ_EXAMPLES=2000 makes it long (docs/reliability.md).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hailo_face_server.api.errors import STATUS_BY_CODE
from hailo_face_server.errors import ImageTooLarge, InvalidImage, UnsupportedMediaType
from hailo_face_server.imaging import decode_image
from tests.reliability.conftest import Server
from tests.support import FACES_DIR, png_claiming

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
LIMIT = 40_000_000
DECODE_ERRORS = (InvalidImage, UnsupportedMediaType, ImageTooLarge)


def encoded(image_format: str) -> bytes:
    out = io.BytesIO()
    Image.open(FACES_DIR / "people" / "penny" / "penny2.png").convert("RGB").save(out, image_format)
    return out.getvalue()


REAL_IMAGES = [encoded("JPEG"), encoded("PNG"), encoded("WEBP")]


@st.composite
def damaged_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(REAL_IMAGES)))
    cut = draw(st.integers(min_value=0, max_value=len(data)))
    data = data[: max(cut, draw(st.integers(0, 64)))]
    for _ in range(draw(st.integers(0, 8))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ
@given(st.one_of(st.binary(max_size=2048), damaged_images()))
def test_decoding_anything_gives_an_image_or_a_known_error(data: bytes) -> None:
    try:
        decoded = decode_image(data, LIMIT)
    except DECODE_ERRORS:
        return
    assert decoded.pixels.ndim == 3
    assert decoded.pixels.shape[2] == 3


@FUZZ
@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1))
def test_a_claimed_size_over_the_limit_is_refused_before_decoding(width: int, height: int) -> None:
    if width * height > LIMIT:
        with pytest.raises(ImageTooLarge):
            decode_image(png_claiming(width, height), LIMIT)
        return
    with contextlib.suppress(DECODE_ERRORS):
        decode_image(png_claiming(width, height), LIMIT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("fuzz") / "data", "--set", "server.max_body_mb=2")
    running.wait_ready()
    status, _ = running.request(
        "POST", "/v1/database/add?name=penny", (FACES_DIR / "people" / "penny" / "penny1.png").read_bytes(),
        {"Content-Type": "image/png"},
    )  # fmt: skip
    assert status == 201
    yield running
    running.stop()


def expect_stable_answer(status: int, body: object) -> None:
    assert status < 500, body
    if status >= 400:
        assert isinstance(body, dict), body
        assert body["error"]["code"] in STATUS_BY_CODE
        assert STATUS_BY_CODE[body["error"]["code"]] == status
        assert isinstance(body["error"]["message"], str)


SQL = st.sampled_from(["'; DROP TABLE identities; --", "x' OR '1'='1", 'Robert"); DELETE FROM faces; --', "%' --"])
NAMES = st.one_of(
    st.text(max_size=80),
    SQL,
    st.sampled_from(["../etc/passwd", "a/b", "\\\\server\\share", "..", ".", "", " ", "unknown", "x" * 500]),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=20),
)
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)


@FUZZ
@given(name=NAMES, image=st.one_of(st.sampled_from(REAL_IMAGES), damaged_images()))
def test_teaching_with_any_name_is_a_created_face_or_a_stable_error(server: Server, name: str, image: bytes) -> None:
    body = json.dumps({"name": name, "image": base64.b64encode(image).decode()}).encode()
    status, answer = server.request("POST", "/v1/database/add", body, {"Content-Type": "application/json"})
    expect_stable_answer(status, answer)


@FUZZ
@given(
    parameter=st.sampled_from(["threshold", "max_faces", "min_face_size", "bbox", "pick", "anything"]),
    value=NUMBERS,
    route=st.sampled_from(["/v1/detect", "/v1/embed", "/v1/recognize"]),
)
def test_any_parameter_value_is_accepted_or_refused_cleanly(
    server: Server, parameter: str, value: object, route: str
) -> None:
    body = json.dumps({"image": base64.b64encode(REAL_IMAGES[0]).decode(), parameter: value}).encode()
    status, answer = server.request("POST", route, body, {"Content-Type": "application/json"})
    expect_stable_answer(status, answer)
    query = urllib.parse.urlencode({parameter: json.dumps(value)})
    status, answer = server.request("POST", f"{route}?{query}", REAL_IMAGES[0], {"Content-Type": "image/jpeg"})
    expect_stable_answer(status, answer)


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=512), st.text(max_size=200).map(str.encode)),
    content_type=st.one_of(
        st.sampled_from(["application/json", "image/jpeg", "image/png", "image/webp", "multipart/form-data",
                         "multipart/form-data; boundary=x", "text/plain", "application/octet-stream", ""]),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
    ),
    route=st.sampled_from(["/v1/detect", "/v1/recognize", "/v1/database/add", "/v1/database/import"]),
)  # fmt: skip
def test_any_body_with_any_content_type_is_refused_cleanly(
    server: Server, body: bytes, content_type: str, route: str
) -> None:
    headers = {"Content-Type": content_type.encode("latin-1", "replace").decode("latin-1")}
    try:
        status, answer = server.request("POST", route, body, headers)
    except ValueError:
        return  # the client itself refused to send this header
    expect_stable_answer(status, answer)


@FUZZ
@given(raw=st.binary(min_size=1, max_size=40))
def test_non_utf8_names_in_paths_queries_and_forms_are_refused_cleanly(server: Server, raw: bytes) -> None:
    quoted = urllib.parse.quote_from_bytes(raw, safe="")
    for method, path in (("DELETE", f"/v1/database/{quoted}"), ("GET", f"/v1/database/{quoted}/faces/1/image")):
        expect_stable_answer(*server.request(method, path))
    status, answer = server.request(
        "POST", f"/v1/database/add?name={quoted}", REAL_IMAGES[1], {"Content-Type": "image/png"}
    )
    expect_stable_answer(status, answer)
    boundary = "fuzzboundary"
    form = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n".encode() + raw
        + f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
        f"Content-Type: image/png\r\n\r\n".encode() + REAL_IMAGES[1] + f"\r\n--{boundary}--\r\n".encode()
    )  # fmt: skip
    status, answer = server.request(
        "POST", "/v1/database/add", form, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    expect_stable_answer(status, answer)


def test_a_malformed_http_header_is_refused_by_the_http_parser(server: Server) -> None:
    """Not valid HTTP: aiohttp's parser answers a plain 400 before the app sees it, and the server stays up."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: \x1f\r\nContent-Length: 0\r\n\r\n")
        reply = connection.recv(4096)
    assert reply.split(b"\r\n", 1)[0].endswith(b"400 Bad Request")
    assert server.request("GET", "/health")[0] == 200


def test_after_the_fuzzing_the_gallery_is_whole(server: Server) -> None:
    status, listing = server.request("GET", "/v1/database/list")
    assert status == 200
    names = {identity["name"] for identity in listing["identities"]}
    assert "penny" in names
    status, health = server.request("GET", "/health")
    assert status == 200
    assert health["faces"] == sum(
        sum(sample["usable"] for sample in identity["samples"]) for identity in listing["identities"]
    )
    assert not list(Path(server.data_dir).glob("*.part"))
