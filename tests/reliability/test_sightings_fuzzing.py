"""Fuzzing the sightings, clusters and negatives routes: hostile queries, bodies and path ids.

Every answer is a JSON 4xx with a stable code (a 200 where the request is a
valid read), never a 500 or a hang, and nothing stored changes: both SQLite
files read the same before and after. A request that is valid and names
something that exists would act, so the generators leave those out (the
server's own models and name rules decide which they are).

A short run is part of ./scripts/test; FUZZ_EXAMPLES=2000 makes it long (docs/reliability.md).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import sqlite3
import urllib.parse
import zlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from hailo_face_server.api import models as m
from hailo_face_server.api.errors import STATUS_BY_CODE
from hailo_face_server.errors import InvalidName
from hailo_face_server.gallery.names import name_key, normalize_name
from tests.reliability.conftest import Server
from tests.support import FACES_DIR

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
JSON = {"Content-Type": "application/json"}
PNG = {"Content-Type": "image/png"}
DOOR = "camera.front_door"
MAX_ID = 2**63 - 1
# The codes a hostile request may get: refused as malformed, naming nothing, naming nobody.
REFUSED = {
    "invalid_request", "invalid_json", "invalid_name", "not_found", "not_named", "unsupported_media_type",
    "unsupported_encoding", "payload_too_large", "method_not_allowed",
}  # fmt: skip


def photo(name: str, number: int) -> bytes:
    return (FACES_DIR / "people" / name / f"{name}{number}.png").read_bytes()


def sightings_server(data_dir: Path) -> Server:
    return Server(
        data_dir, "--set", "server.max_body_mb=2", "--set", "sightings.merge_window_s=0",
    )  # fmt: skip


@dataclass(frozen=True)
class Seeded:
    """What the module's server holds: every id a hostile request could name by accident."""

    server: Server
    named: frozenset[int]  # sightings named as somebody (a reject would act on them)
    sightings: frozenset[int]
    clusters: frozenset[int]
    negative_id: int
    baseline: tuple[Any, ...]


def fingerprint(data_dir: Path) -> tuple[Any, ...]:
    """Everything both files hold, read beside the running server (read-only, WAL)."""
    tables = {
        "sightings.db": ("sightings", "sighting_embeddings", "sighting_crops", "sqlite_sequence"),
        "faces.db": ("identities", "faces", "embeddings", "negatives"),
    }
    held: list[Any] = []
    for file, names in tables.items():
        with closing(sqlite3.connect(f"file:{data_dir / file}?mode=ro", uri=True)) as db:
            for table in names:
                held.append((table, db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()))
    return tuple(held)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data_dir = tmp_path_factory.mktemp("sightings-fuzz") / "data"
    server = sightings_server(data_dir)
    server.wait_ready()
    status, answer = server.request("POST", "/v1/database/add?name=amy", photo("amy", 1), PNG)
    assert status == 201, answer
    ids = []
    for name, number in (("amy", 2), ("amy", 3), ("stuart", 2), ("stuart", 3), ("stuart", 4)):
        status, answer = server.request("POST", f"/v1/recognize?source={DOOR}", photo(name, number), PNG)
        assert status == 200, answer
        ids += [face["sighting_id"] for face in answer["faces"]]
    status, rejected = server.request("POST", f"/v1/sightings/{ids[1]}/reject", b"{}", JSON)  # a negative of amy
    assert status == 200, rejected
    status, listing = server.request("GET", "/v1/sightings?limit=500")
    assert status == 200, listing
    named = frozenset(s["id"] for s in listing["sightings"] if s["outcome"] != "unknown")
    status, clusters = server.request("GET", "/v1/clusters")
    assert status == 200 and clusters["clusters"], clusters
    yield Seeded(
        server=server,
        named=named,
        sightings=frozenset(ids),
        clusters=frozenset(c["id"] for c in clusters["clusters"]),
        negative_id=rejected["negative"]["id"],
        baseline=fingerprint(data_dir),
    )
    server.stop()


def expect_refused(status: int, body: object, codes: set[str] = REFUSED) -> str:
    """A JSON 4xx whose code is one of the stable ones, and says the status it came with."""
    assert 400 <= status < 500, (status, body)
    assert isinstance(body, dict), (status, body)
    code = body["error"]["code"]
    assert code in codes, (status, body)
    assert STATUS_BY_CODE[code] == status, (status, body)
    assert isinstance(body["error"]["message"], str), body
    return str(code)


def expect_unchanged(seeded: Seeded, what: object) -> None:
    assert fingerprint(seeded.server.data_dir) == seeded.baseline, f"the files changed after {what!r:.500}"


# Values: wrong types, huge and negative numbers, NaN and infinities, odd text.

ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12),
    st.sampled_from([
        "", " ", "\x00", "a\x00b", "\u202eamy", "\u200f\u200e", "\ufeff", "\r\n", "\t", "\x1b[31m", "%00", "null",
        "NaN", "Infinity", "-1", "0", "1e3", "99999999999999999999", "x" * 300, "a" * 100_000, "AMY ",
        "\uff41\uff4d\uff59", "'; DROP TABLE sightings; --", "../../etc/passwd", "unknown", "unkn\u043ewn",
    ]),
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**70, -(2**70), 2**63, MAX_ID, -(2**63) - 1, 10**30, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ODD_TEXT, st.integers(-3, 12))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
BIG_LISTS = st.sampled_from([
    list(range(10**9, 10**9 + 10_000)), [10**9] * 1001, list(range(10**9, 10**9 + 1000)), [[10**9]] * 50, [None] * 2000,
])  # fmt: skip
ID_LISTS = st.one_of(st.lists(SCALARS, max_size=6), VALUES, BIG_LISTS, st.lists(st.integers(-3, 12), max_size=4))


@st.composite
def review_bodies(draw: st.DrawFn) -> Any:
    """A JSON object with the actions' fields, each maybe wrong, and maybe fields that do not belong."""
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["sighting_ids"] = draw(ID_LISTS)
    if draw(st.booleans()):
        body["name"] = draw(st.one_of(ODD_TEXT, VALUES))
    if draw(st.integers(0, 3)) == 0:
        body[draw(st.text(max_size=12))] = draw(VALUES)
    return body


PATH_IDS = st.one_of(
    st.sampled_from(["-1", "0", "1e3", "99999999999999999999", str(MAX_ID), str(2**63), "%00", "1%00", "%20", "1.0",
                     "0x1", "1_0", "+1", "%EF%BC%91", "%D9%A3", "NaN", "null", "%E2%80%AE1", "a" * 300]),
    st.integers(-3, 12).map(str),
    st.text(max_size=20).map(lambda text: urllib.parse.quote(text, safe="")),
    st.binary(min_size=1, max_size=12).map(lambda raw: urllib.parse.quote_from_bytes(raw, safe="")),
)  # fmt: skip


def path_id(quoted: str) -> int | None:
    """The id the server reads from a path segment (api/contract.py), if it reads one."""
    raw = urllib.parse.unquote(quoted, errors="replace")
    if raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= MAX_ID:
        return int(raw)
    return None


def valid(model: type[BaseModel], body: Any) -> BaseModel | None:
    """The body as the route's model reads it (as the server parses it), or None when it refuses it."""
    try:
        parsed = json.loads(json.dumps(body))
        return model.model_validate(parsed) if isinstance(parsed, dict) else None
    except (ValidationError, ValueError):
        return None


def good_name(name: object) -> bool:
    try:
        normalize_name(name)
    except InvalidName:
        return False
    return True


def would_act(seeded: Seeded, route: str, target: str, body: Any) -> bool:
    """Whether the request is a valid one naming things that exist: it would change the files."""
    if route in ("label", "ignore") and (
        parsed := valid(m.LabelSightings if route == "label" else m.IgnoreSightings, body)
    ):
        ids = {int(i) for i in parsed.sighting_ids}  # type: ignore[attr-defined]  # as the model reads them
        return ids <= seeded.sightings and (route == "ignore" or good_name(body["name"]))
    if route == "reject" and (parsed := valid(m.Reject, body)):
        name = parsed.name  # type: ignore[attr-defined]
        return path_id(target) in seeded.named and (name is None or good_name(name))
    if route == "label_cluster" and valid(m.LabelCluster, body):
        return path_id(target) in seeded.clusters and good_name(body["name"])
    if route == "ignore_cluster" and valid(m.Empty, body):
        return path_id(target) in seeded.clusters
    return False


ACTIONS = {
    "label": "/v1/sightings/label",
    "ignore": "/v1/sightings/ignore",
    "reject": "/v1/sightings/{}/reject",
    "label_cluster": "/v1/clusters/{}/label",
    "ignore_cluster": "/v1/clusters/{}/ignore",
}


@FUZZ
@given(route=st.sampled_from(sorted(ACTIONS)), target=PATH_IDS, body=st.one_of(review_bodies(), VALUES))
def test_hostile_json_bodies_to_the_review_actions_are_refused_and_change_nothing(
    seeded: Seeded, route: str, target: str, body: Any
) -> None:
    assume(not would_act(seeded, route, target, body))
    path = ACTIONS[route].format(target)
    status, answer = seeded.server.request("POST", path, json.dumps(body).encode(), JSON)
    expect_refused(status, answer)
    expect_unchanged(seeded, (path, body))


QUERY_KEYS = st.one_of(
    st.sampled_from(["source", "person", "outcome", "cluster_id", "since", "until", "limit", "cursor",
                     "low_quality_limit", "name", "image"]),
    st.text(max_size=10),
)  # fmt: skip


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors: garbage, base64 of garbage, base64 of JSON of any shape. Integers stay within SQLite's
# 64 bits here: beyond them is a known bug with a test of its own (below).
CURSOR_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), MAX_ID), st.floats(), ODD_TEXT,
    st.fixed_dictionaries({"blob": st.one_of(st.text(max_size=8), st.binary(max_size=8).map(bytes.hex))}),
)  # fmt: skip
CURSORS = st.one_of(
    st.text(max_size=100),
    st.binary(max_size=70).map(b64),
    st.tuples(CURSOR_SCALARS, CURSOR_SCALARS).map(lambda pair: b64(json.dumps(list(pair)).encode())),
    st.lists(CURSOR_SCALARS, max_size=3).map(lambda items: b64(json.dumps(items).encode())),
)
QUERY_VALUES = st.one_of(
    ODD_TEXT.filter(lambda text: len(text) < 1000),
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(repr),
    st.sampled_from(["named", "unknown", "ignored", "NAMED", "nan", "-inf", "1e999", "4102444801", "0x10", "amy"]),
    CURSORS,
)
READS = [
    "/v1/sightings", "/v1/sightings/summary", "/v1/clusters", "/v1/sightings/1", "/v1/sightings/1/image",
    "/v1/clusters/3", "/v1/database/amy/negatives", "/v1/database/amy/negatives/1/image",
]  # fmt: skip


@FUZZ
@given(route=st.sampled_from(READS), pairs=st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=5))
def test_hostile_query_strings_get_an_answer_or_a_stable_error(
    seeded: Seeded, route: str, pairs: list[tuple[str, str]]
) -> None:
    path = f"{route}?{urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)}"
    assume(len(path) < 8000)  # past the HTTP parser's line limit aiohttp answers alone (see below)
    status, answer = seeded.server.request("GET", path)
    if status == 200:
        return  # a valid read (or the image): nothing to refuse
    expect_refused(status, answer, {"invalid_request", "not_found"})


@FUZZ
@given(raw=PATH_IDS, name=st.one_of(st.just("amy"), ODD_TEXT.filter(lambda text: len(text) < 300)))
def test_hostile_path_ids_and_names_name_nothing_and_change_nothing(seeded: Seeded, raw: str, name: str) -> None:
    number = path_id(raw)
    quoted_name = urllib.parse.quote(name, safe="")
    requests = [
        ("GET", f"/v1/sightings/{raw}"),
        ("GET", f"/v1/sightings/{raw}/image"),
        ("GET", f"/v1/clusters/{raw}"),
        ("GET", f"/v1/database/{quoted_name}/negatives/{raw}/image"),
        ("GET", f"/v1/database/{quoted_name}/negatives"),
    ]
    if number not in seeded.sightings:
        requests.append(("DELETE", f"/v1/sightings/{raw}"))
    if number not in seeded.clusters:
        requests.append(("DELETE", f"/v1/clusters/{raw}"))
    if number != seeded.negative_id or name_key(name) != name_key("amy"):
        requests.append(("DELETE", f"/v1/database/{quoted_name}/negatives/{raw}"))
    requests.append(("DELETE", f"/v1/database/{quoted_name}/negatives/{seeded.negative_id}x"))
    for method, path in requests:
        status, answer = seeded.server.request(method, path)
        if method == "GET" and status == 200:
            continue  # e.g. /v1/sightings/1: a read of what exists
        expect_refused(status, answer, {"not_found", "invalid_name", "method_not_allowed", "invalid_request"})
    expect_unchanged(seeded, (raw, name))


ODD_IDS = ["-1", "0", "1e3", "99999999999999999999", str(2**63), str(MAX_ID), "%00", "1%00", "%EF%BC%91", "%20"]


def test_path_ids_that_are_not_ids_are_refused(seeded: Seeded) -> None:
    """Not a whole number: 400 invalid_request; a number beyond any id: 404 not_found."""
    templates = [
        ("GET", "/v1/sightings/{}", None), ("DELETE", "/v1/sightings/{}", None),
        ("GET", "/v1/sightings/{}/image", None), ("POST", "/v1/sightings/{}/reject", b"{}"),
        ("GET", "/v1/clusters/{}", None), ("DELETE", "/v1/clusters/{}", None),
        ("POST", "/v1/clusters/{}/label", b'{"name": "Zed"}'), ("POST", "/v1/clusters/{}/ignore", b"{}"),
        ("DELETE", "/v1/database/amy/negatives/{}", None), ("GET", "/v1/database/amy/negatives/{}/image", None),
    ]  # fmt: skip
    for method, template, body in templates:
        for raw in ODD_IDS:
            path = template.format(raw)
            status, answer = seeded.server.request(method, path, body, JSON if body else None)
            expected = "not_found" if raw.isascii() and raw.isdigit() else "invalid_request"
            assert expect_refused(status, answer) == expected, (method, path, answer)
    # Somebody else's negative, or a negative of nobody, is not found: it stays.
    for name in ("nobody", "AMY%00", "%E2%80%AEamy", "amy%2F..", "raj"):
        path = f"/v1/database/{name}/negatives/{seeded.negative_id}"
        assert expect_refused(*seeded.server.request("DELETE", path)) in ("not_found", "invalid_name"), path
    expect_unchanged(seeded, "path ids")


WRONG_IDS: list[object] = [
    [2**70], [-(2**70)], [2**63], [-1], [0], [1.5], [float("nan")], [float("inf")], ["NaN"], ["1e3"], [[1]],
    [{"id": 1}], [None], None, "1", 1, {}, [], list(range(10**9, 10**9 + 10_000)), [10**9] * 1001,
]  # fmt: skip
WRONG_NAMES: list[object] = [
    "", " ", "\x00", "amy\x00", "\u202e", "\u200b", "x" * 100_000, 12, None, ["amy"], {"n": 1}, float("nan"), True,
    "unknown", "ignored", "unkn\u043ewn", "a/b", "\\\\x",
]  # fmt: skip


def test_wrong_ids_and_names_in_bodies_are_refused(seeded: Seeded) -> None:
    existing = sorted(seeded.sightings)
    bodies: list[tuple[str, Any]] = []
    for ids in WRONG_IDS:
        bodies += [
            ("/v1/sightings/label", {"sighting_ids": ids, "name": "Zed"}),
            ("/v1/sightings/ignore", {"sighting_ids": ids}),
        ]
    for name in WRONG_NAMES:
        named = min(seeded.named)
        bodies += [
            ("/v1/sightings/label", {"sighting_ids": existing, "name": name}),
            (f"/v1/clusters/{min(seeded.clusters)}/label", {"name": name}),
        ]
        if name is not None:  # a reject without a name is a valid one
            bodies.append((f"/v1/sightings/{named}/reject", {"name": name}))
    bodies += [
        ("/v1/sightings/label", {"sighting_ids": existing}),  # no name
        ("/v1/sightings/label", {"sighting_ids": existing, "name": "Zed", "extra": 1}),
        ("/v1/sightings/ignore", {"sighting_ids": existing, "name": "Zed"}),
        (f"/v1/clusters/{min(seeded.clusters)}/ignore", {"anything": 1}),
        (f"/v1/sightings/{min(seeded.named)}/reject", {"name": "Zed", "why": "x"}),
        (f"/v1/sightings/{min(seeded.sightings - seeded.named)}/reject", {}),  # unknown: no name to reject
    ]
    for path, body in bodies:
        status, answer = seeded.server.request("POST", path, json.dumps(body).encode(), JSON)
        assert 400 <= status < 500, (path, f"{body!r:.200}", status, answer)
        expect_refused(status, answer)
    expect_unchanged(seeded, "wrong ids and names")


RAW_BODIES: list[tuple[bytes, dict[str, str], str]] = [
    (b"", JSON, "invalid_json"),
    (b"null", JSON, "invalid_json"),
    (b"[]", JSON, "invalid_json"),
    (b'"x"', JSON, "invalid_json"),
    (b'{"sighting_ids": [1], "name":', JSON, "invalid_json"),
    (b'{"sighting_ids": [NaN], "name": "Zed"}', JSON, "invalid_request"),
    (b'{"sighting_ids": [Infinity], "name": "Zed"}', JSON, "invalid_request"),
    (b'{"sighting_ids": [-Infinity], "name": "Zed"}', JSON, "invalid_request"),
    (b'{"sighting_ids": [1e400], "name": "Zed"}', JSON, "invalid_request"),
    (b'{"sighting_ids": [1' + b"0" * 5000 + b'], "name": "Zed"}', JSON, "invalid_json"),
    (b"[" * 100_000 + b"]" * 100_000, JSON, "invalid_json"),
    (b"\xef\xbb\xbf{}", JSON, "invalid_json"),
    ('{"name": "Zed"}'.encode("utf-16"), JSON, "invalid_json"),
    (b'{"name": "\xff\xfe"}', JSON, "invalid_json"),
    (b"{}", {"Content-Type": "text/plain"}, "unsupported_media_type"),
    (b"{}", {"Content-Type": "application/x-www-form-urlencoded"}, "unsupported_media_type"),
    (b"--X--\r\n", {"Content-Type": "multipart/form-data; boundary=X"}, "unsupported_media_type"),
    (b"\x89PNG", PNG, "unsupported_media_type"),
    (b"{}", {"Content-Type": "application/json-patch+json"}, "unsupported_media_type"),
    (b"{}", {"Content-Type": ""}, "unsupported_media_type"),
    (gzip.compress(b"0" * (200 * 2**20)), {**JSON, "Content-Encoding": "gzip"}, "payload_too_large"),
    (zlib.compress(b" " * (50 * 2**20)), {**JSON, "Content-Encoding": "deflate"}, "payload_too_large"),
    (gzip.compress(b"{}")[:-6], {**JSON, "Content-Encoding": "gzip"}, "invalid_request"),
    (b"{}", {**JSON, "Content-Encoding": "gzip"}, "invalid_request"),
    (b"{}", {**JSON, "Content-Encoding": "br"}, "unsupported_encoding"),
    (b"{}", {**JSON, "Content-Encoding": "gzip, gzip"}, "unsupported_encoding"),
    (b" " * (3 * 2**20), JSON, "payload_too_large"),
]


def test_bodies_that_are_not_json_objects_are_refused(seeded: Seeded) -> None:
    named, cluster = min(seeded.named), min(seeded.clusters)
    routes = ["/v1/sightings/label", "/v1/sightings/ignore", f"/v1/sightings/{named}/reject",
              f"/v1/clusters/{cluster}/label", f"/v1/clusters/{cluster}/ignore"]  # fmt: skip
    for route in routes:
        for body, headers, code in RAW_BODIES:
            status, answer = seeded.server.request("POST", route, body, headers)
            assert expect_refused(status, answer) == code, (route, body[:80], headers, answer)
    # A gzip body is read: it reaches the check of the ids it names.
    packed = gzip.compress(json.dumps({"sighting_ids": [10**9], "name": "Zed"}).encode())
    status, answer = seeded.server.request("POST", routes[0], packed, {**JSON, "Content-Encoding": "gzip"})
    assert expect_refused(status, answer) == "not_found", answer
    expect_unchanged(seeded, "raw bodies")


def counted_500s(server: Server) -> float:
    text = server.request("GET", "/metrics")[1].decode()
    return sum(float(v) for v in re.findall(r'^hailo_face_requests_total\{.*status="500".*\} (\S+)$', text, re.M))


def test_after_the_fuzzing_nothing_changed_and_the_server_answers(seeded: Seeded) -> None:
    assert fingerprint(seeded.server.data_dir) == seeded.baseline
    status, health = seeded.server.request("GET", "/health")
    assert status == 200, health
    assert health["sightings"]["stored"] == len(seeded.sightings)
    assert counted_500s(seeded.server) == 0
    log = seeded.server.log.read_text()
    assert "Traceback" not in log and "Unexpected error" not in log, log[-3000:]


# Bugs this fuzzing found, fixed: they stay as tests.


def test_every_low_quality_limit_the_contract_allows_is_accepted(seeded: Seeded) -> None:
    for limit in (1, 500):
        status, answer = seeded.server.request("GET", f"/v1/clusters?low_quality_limit={limit}")
        assert status == 200, (limit, answer)
        assert len(answer["low_quality"]["sightings"]) <= limit
    for limit in (0, 501):  # outside the contract (ClustersQuery: 1..500), as the OpenAPI says
        status, answer = seeded.server.request("GET", f"/v1/clusters?low_quality_limit={limit}")
        assert expect_refused(status, answer) == "invalid_request", (limit, answer)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own, for requests that hit a bug (a 500, a change) the module's server must not see."""
    server = sightings_server(tmp_path_factory.mktemp("sightings-scratch") / "data")
    server.wait_ready()
    status, answer = server.request("POST", f"/v1/recognize?source={DOOR}", photo("stuart", 2), PNG)
    assert status == 200 and answer["faces"][0]["sighting_id"] == 1, answer
    yield server
    server.stop()


def test_a_cursor_holding_an_integer_sqlite_cannot_store_is_refused(scratch: Server) -> None:
    for pair in ([2**70, 1], [1, 2**70], ["x", -(2**63) - 1], [1.5, 2**64]):
        status, answer = scratch.request("GET", f"/v1/sightings?cursor={b64(json.dumps(pair).encode())}")
        assert expect_refused(status, answer) == "invalid_request", (pair, status, answer)


def test_a_boolean_is_not_a_sighting_id(scratch: Server) -> None:
    for route, body in (
        ("/v1/sightings/ignore", {"sighting_ids": [True]}),
        ("/v1/sightings/label", {"sighting_ids": [True], "name": "Zed"}),
    ):
        status, answer = scratch.request("POST", route, json.dumps(body).encode(), JSON)
        assert expect_refused(status, answer) == "invalid_request", (route, body, status, answer)
    status, sighting = scratch.request("GET", "/v1/sightings/1")
    assert sighting["outcome"] == "unknown", sighting


def test_a_request_line_past_the_parser_limit_is_refused_and_the_server_stays(scratch: Server) -> None:
    """Longer than aiohttp's 8190-byte line limit: its parser answers a plain 400 before the app sees it.

    (It also logs the parser's traceback at ERROR, as for any malformed request: on the scratch
    server, so that the module's server's log stays free of tracebacks.)
    """
    status, answer = scratch.request("GET", "/v1/sightings?source=" + "x" * 9000)
    assert status == 400, answer
    assert scratch.request("GET", "/health")[0] == 200
