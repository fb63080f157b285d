"""The adversarial round against a real server process, repeated: malformed bodies, encodings,
slow and aborted uploads, forged log lines, cross-site requests and what the answers give away.

Each test reproduces what the attack found; a 5xx, a hang, a forged log line or a
changed gallery fails it.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import API_KEY, Server
from tests.support import Faces

JSON = "application/json"


def exchange(server: Server, head: str, body: bytes = b"", *, seconds: float = 60) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer (the test's own HTTP client: nothing is fixed up)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=seconds) as sock:
        sock.sendall(head.encode("latin-1") + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _expected_length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    header_block, _, payload = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, payload


def _expected_length(data: bytes) -> int:
    header_block, _, _ = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", header_block)
    return len(header_block) + 4 + int(found.group(1)) if found else len(data) + 1


def post(
    server: Server, path: str, body: bytes, content_type: str, extra: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Host": f"127.0.0.1:{server.port}", "Authorization": f"Bearer {API_KEY}", "Connection": "close"}
    headers |= {"Content-Type": content_type, "Content-Length": str(len(body)), **(extra or {})}
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return exchange(server, head, body)


def error_code(status: int, payload: bytes) -> str:
    assert 400 <= status < 500, (status, payload[:300])
    code: str = json.loads(payload)["error"]["code"]
    return code


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "data")
    running.wait_ready()
    yield running
    running.stop()


def counted_500s(server: Server) -> float:
    text = server.request("GET", "/metrics")[1].decode()
    return sum(float(v) for v in re.findall(r'^hailo_face_requests_total\{.*status="500".*\} (\S+)$', text, re.M))


MULTIPART = "multipart/form-data; boundary=XX"
MALFORMED: dict[str, tuple[str, bytes, str, dict[str, str]]] = {
    "a number of 401 digits": ("/v1/recognize", b'{"image": "aGk=", "threshold": 1' + b"0" * 400 + b"}", JSON, {}),
    "a box coordinate of 401 digits": (
        "/v1/embed",
        b'{"image": "aGk=", "bbox": [1' + b"0" * 400 + b", 0, 1, 1]}",
        JSON,
        {},
    ),
    "JSON nested 100,000 deep": ("/v1/recognize", b"[" * 100_000 + b"]" * 100_000, JSON, {}),
    "an integer of 5,000 digits": ("/v1/recognize", b'{"image": "aGk=", "max_faces": ' + b"9" * 5000 + b"}", JSON, {}),
    "an unterminated multipart body": (
        "/v1/recognize",
        b'--XX\r\nContent-Disposition: form-data; name="image"\r\n\r\nabc',
        MULTIPART,
        {},
    ),
    "a part without Content-Disposition": (
        "/v1/recognize",
        b"--XX\r\nContent-Type: text/plain\r\n\r\nabc\r\n--XX--\r\n",
        MULTIPART,
        {},
    ),
    "charset=bogus": (
        "/v1/recognize",
        b'--XX\r\nContent-Disposition: form-data; name="x"\r\n'
        b"Content-Type: text/plain; charset=bogus\r\n\r\nabc\r\n--XX--\r\n",
        MULTIPART,
        {},
    ),
    "Content-Transfer-Encoding: x-foo": (
        "/v1/recognize",
        b'--XX\r\nContent-Disposition: form-data; name="x"\r\n'
        b"Content-Transfer-Encoding: x-foo\r\n\r\nabc\r\n--XX--\r\n",
        MULTIPART,
        {},
    ),
    "gzip on a plain body": ("/v1/recognize", b'{"image": "aGk="}', JSON, {"Content-Encoding": "gzip"}),
    "deflate on a plain body": ("/v1/recognize", b'{"image": "aGk="}', JSON, {"Content-Encoding": "deflate"}),
    "br": ("/v1/recognize", b'{"image": "aGk="}', JSON, {"Content-Encoding": "br"}),
    "gzip on a multipart body": (
        "/v1/recognize",
        gzip.compress(b"--XX--\r\n"),
        MULTIPART,
        {"Content-Encoding": "gzip"},
    ),
}


def test_malformed_requests_get_a_json_4xx_never_a_500(server: Server) -> None:
    codes = {}
    for case, (path, body, content_type, extra) in MALFORMED.items():
        status, headers, payload = post(server, path, body, content_type, extra)
        assert headers["content-type"].startswith(JSON), (case, status, payload[:200])
        codes[case] = error_code(status, payload)
    assert codes["JSON nested 100,000 deep"] == "invalid_json"
    assert codes["an integer of 5,000 digits"] == "invalid_json"
    assert codes["a number of 401 digits"] == "invalid_request"
    assert codes["br"] == "unsupported_encoding"
    assert codes["gzip on a multipart body"] == "unsupported_encoding"
    assert counted_500s(server) == 0
    assert "Unexpected error" not in server.log.read_text()


def test_compressed_bodies_are_read_and_bombs_refused(server: Server, faces: Faces) -> None:
    body = json.dumps({"image": base64.b64encode(faces.person("amy", 1).read_bytes()).decode()}).encode()
    for encoding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        status, _, payload = post(server, "/v1/detect", packed, JSON, {"Content-Encoding": encoding})
        assert status == 200, (encoding, payload[:200])
        assert len(json.loads(payload)["faces"]) == 1
    bomb = gzip.compress(b"0" * (200 * 2**20))  # 200 MB of zeros in 200 KB; the limit is 10 MB
    status, _, payload = post(server, "/v1/detect", bomb, JSON, {"Content-Encoding": "gzip"})
    assert error_code(status, payload) == "payload_too_large"


def test_a_client_that_aborts_its_upload_is_logged_as_such_not_as_a_server_error(server: Server) -> None:
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(
                b"POST /v1/recognize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + API_KEY.encode()
                + b"\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000
            )  # fmt: skip
            time.sleep(0.2)  # a partial upload in flight, then the client goes away (not what the test decides)
    deadline = time.monotonic() + 30
    while server.log.read_text().count("closed the connection") < 3:
        assert time.monotonic() < deadline, server.log.read_text()[-2000:]
        time.sleep(0.05)
    log = server.log.read_text()
    assert "Traceback" not in log and "Unexpected error" not in log
    assert counted_500s(server) == 0
    assert 'status="499"' in server.request("GET", "/metrics")[1].decode()


def test_slow_and_empty_bodies_take_no_queue_place_and_are_dropped(tmp_path: Path, faces: Faces) -> None:
    server = Server(tmp_path / "data", "--set", "server.body_timeout=3", "--set", "performance.max_queue_size=2")
    try:
        server.wait_ready()
        stalled = []
        for _ in range(10):  # as the attack: a promised 1 MB body that never comes
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
            sock.sendall(
                f"POST /v1/recognize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
                "Content-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n".encode()
            )
            stalled.append(sock)
        started = time.monotonic()
        photo = faces.person("penny", 1).read_bytes()
        for _ in range(5):
            status, body = server.request("POST", "/v1/recognize", photo, {"Content-Type": "image/png"})
            assert status == 200, body
        answers = []
        for sock in stalled:
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            sock.close()
            answers.append(data)
        waited = time.monotonic() - started
        assert all(a.startswith(b"HTTP/1.1 408") and b'"body_timeout"' in a for a in answers), answers[0][:300]
        assert waited < 30, waited  # dropped after about body_timeout (3 s), not waited for
    finally:
        server.stop()


def test_a_forged_log_line_cannot_be_written(server: Server) -> None:
    exchange(server, "GET /x%0aFAKE%20LINE%1b[31m%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, _ = server.request("DELETE", "/v1/database/Mallory%0aFAKE%20DELETE", headers={"Content-Type": JSON})
    assert status == 404
    deadline = time.monotonic() + 30
    while "FAKE DELETE" not in server.log.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    lines = server.log.read_text().splitlines()
    assert not [line for line in lines if line.startswith("FAKE")]
    assert not [line for line in lines if "\x1b" in line or "\x00" in line]
    assert any("/x\\nFAKE LINE\\x1b[31m\\x00" in line for line in lines)


def multipart_image(path: Path) -> tuple[bytes, str]:
    boundary = "hailoface"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_state_changing_requests_from_another_site_are_refused(tmp_path: Path, faces: Faces) -> None:
    # A server without an API key, as on a LAN; a web page elsewhere posts a form to it.
    server = Server(tmp_path / "data", "--api-key", "", "--set", "server.allowed_origins=http://ha.local:8123")
    try:
        server.wait_ready()
        body, content_type = multipart_image(faces.person("penny", 1))
        attack = {"Origin": "http://evil.example"}
        status, _, payload = post(server, "/v1/database/add?name=Mallory", body, content_type, attack)
        assert error_code(status, payload) == "forbidden_origin"
        status, _, payload = post(server, "/v1/database/add?name=Mallory", body, content_type, {"Origin": "null"})
        assert error_code(status, payload) == "forbidden_origin"
        status, _, payload = post(
            server, "/v1/database/add?name=Mallory", body, content_type, {"Sec-Fetch-Site": "cross-site"}
        )
        assert error_code(status, payload) == "forbidden_origin"
        assert server.request("GET", "/v1/database/list")[1]["identities"] == []
        for allowed in (f"http://127.0.0.1:{server.port}", "http://ha.local:8123", None):
            status, _, payload = post(
                server, "/v1/database/add?name=Penny", body, content_type, {"Origin": allowed} if allowed else {}
            )
            assert status == 201, (allowed, payload[:300])
        # Reading stays open to any page's GET (no state changes); the answer carries no secret.
        assert server.request("GET", "/v1/info", headers={"Origin": "http://evil.example"})[0] == 200
    finally:
        server.stop()


def test_hosts_are_checked_when_configured(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", "--set", "server.allowed_hosts=127.0.0.1,hailo-face.local")
    try:
        server.wait_ready()
        auth = f"Authorization: Bearer {API_KEY}\r\nConnection: close\r\n"
        status, _, payload = exchange(server, f"GET /v1/info HTTP/1.1\r\nHost: rebound.example\r\n{auth}\r\n")
        assert error_code(status, payload) == "forbidden_host"
        for host in (f"127.0.0.1:{server.port}", "hailo-face.local"):
            assert exchange(server, f"GET /v1/info HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n")[0] == 200
        assert exchange(server, "GET /health HTTP/1.1\r\nHost: rebound.example\r\nConnection: close\r\n\r\n")[0] == 200
    finally:
        server.stop()


def test_answers_name_no_versions_and_crops_are_never_sniffed(server: Server, faces: Faces) -> None:
    status, added = server.request(
        "POST", "/v1/database/add?name=Penny", faces.person("penny", 1).read_bytes(), {"Content-Type": "image/png"}
    )
    assert status == 201
    request: Any = __import__("urllib.request").request
    for path in ("/health", "/v1/info", f"/v1/database/Penny/faces/{added['face_id']}/image", "/nowhere"):
        try:
            with request.urlopen(
                request.Request(server.url + path, headers={"Authorization": f"Bearer {API_KEY}"})
            ) as r:
                headers = r.headers
        except __import__("urllib.error").error.HTTPError as err:
            headers = err.headers
        assert headers["Server"] == "hailo-face", (path, headers["Server"])
        assert headers["X-Content-Type-Options"] == "nosniff", path
