"""Sightings: what the server keeps of the faces a camera (``source``) sends, against real server processes.

Every server is started as users start it (CPU backend, its own data folder and
``sightings.db``; the converted models are shared between the folders), and
every number comes from this run. The images are the test photographs, varied
here (nothing is written to the repository): a 150 px portrait pasted, scaled
0.8-1.3, into a 480x360 frame of a wall, or the five-face group photo bbt3;
then a random crop of 0-4 % off each side, brightness 0.7-1.3 and JPEG quality
50-95. Who each returned face is comes from what was sent: a portrait is one
face (its centre); bbt3's faces are told apart by labels.json's centres
(the face whose box holds exactly one centre).

1. A simulated week: 4 of the 8 people enrolled (image 1); images 2-5 of all 8
   and bbt3, each several times, from three cameras, in random order. The
   server runs with ``merge_window_s=0``, so that every scan is an event of its
   own (scans spread over a week, not a burst); merging is measured apart (3).
   Each image is also sent without a source (alternately first), for the cost
   of keeping it. Then the unknown-face clusters: each stranger's number of
   clusters and purity.
2. Labelling: each stranger's clusters (those whose majority is them) are
   labelled with their name; then their image 1, never streamed, and fresh
   variants are recognised, before and after.
3. Merging, with the default 60 s window: bursts of one image's variants sent
   one after another, each burst from a camera of its own.
4. Ageing: that server is stopped, its sightings' times moved back by 0.5-10
   days in its file (the only way to be days older within a benchmark), and it
   is restarted with the default retention (unknown 7 days, named 2): the
   start-up purge must delete exactly those past their age.
5. Rejection, at deliberately low recognition_thresholds: strangers named
   wrong, one sighting of each rejected, then their other images again; and
   the enrolled people's names before and after.
6. Store growth: frames tiling many portraits (one sighting a face) under a
   small byte cap, until the target number of sightings was made.
7. Latency with and without ``source``: new sighting each time
   (``merge_window_s=0``), merged repeat (60 s) and sightings off; the servers
   and the order take turns.
"""

from __future__ import annotations

import functools
import io
import json
import sqlite3
import statistics
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from bench.images import FACES_DIR, _background, camera_frames
from bench.server_process import ServerProcess
from bench.timing import median_ms

ENROLLED = ("amy", "howard", "penny", "sheldon")
STRANGERS = ("bernadette", "leonard", "raj", "stuart")
PEOPLE = tuple(sorted(ENROLLED + STRANGERS))
CAMERAS = ("camera.front_door", "camera.hall", "camera.garden")
FRAME = (480, 360)  # the frame a portrait is pasted into, so that the detector sees some context
GROUP = "bbt3.jpg"
DAY_S = 86_400.0
# Ages given to the week's sightings (days, by id); none within a day of the retention limits (7 and 2).
AGES_DAYS = (0.5, 1.0, 3.0, 5.0, 8.0, 10.0)
KEEP_UNKNOWN_DAYS = 7.0
KEEP_NAMED_DAYS = 2.0
PURITY_GOAL = 0.95
CLUSTERS_GOAL = 2
LATENCY_GOAL = 1.05


@dataclass(frozen=True)
class Counts:
    images: tuple[int, ...]  # the portraits streamed (never image 1: the enrolled were taught from it)
    repeats: int  # variants streamed of each portrait
    group_repeats: int  # variants streamed of bbt3
    fresh_variants: int  # fresh variants of each stranger's image 1, recognised after labelling
    burst_people: tuple[str, ...]
    burst: int  # variants of one image sent one after another from one camera
    thresholds: tuple[float, ...]  # recognition_threshold of the rejection rounds
    reject_images: tuple[int, ...]  # the portraits recognised in the rejection rounds
    tiles: tuple[int, int]  # portraits a store-growth frame tiles (columns, rows)
    store_max_mb: float
    store_max_sightings: int
    store_target: int  # sightings to make in the store-growth run
    latency_pairs: int
    latency_images: int
    latency_off: bool  # also a server with sightings off


FULL = Counts(
    images=(2, 3, 4, 5), repeats=4, group_repeats=4, fresh_variants=4, burst_people=PEOPLE, burst=4,
    thresholds=(0.1, 0.01, 0.0), reject_images=(2, 3, 4, 5), tiles=(8, 5), store_max_mb=5.0,
    store_max_sightings=100_000, store_target=10_000, latency_pairs=40, latency_images=3, latency_off=True,
)  # fmt: skip
SMOKE = Counts(
    images=(2,), repeats=1, group_repeats=1, fresh_variants=0, burst_people=PEOPLE[:2], burst=2,
    thresholds=(0.0,), reject_images=(2, 3), tiles=(4, 2), store_max_mb=1.0, store_max_sightings=20, store_target=24,
    latency_pairs=3, latency_images=1, latency_off=False,
)  # fmt: skip


# The images


@dataclass(frozen=True)
class Scene:
    jpeg: bytes
    truth: tuple[tuple[float, float, str], ...]  # each face's centre (x, y) and who it is

    def who(self, bbox: Sequence[float]) -> str | None:
        """Whose face a returned box is: the one expected face whose centre it holds (None: none, or several)."""
        inside = [name for x, y, name in self.truth if bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]]
        return inside[0] if len(inside) == 1 else None


@functools.cache
def _portrait(name: str, number: int) -> Image.Image:
    return Image.open(FACES_DIR / "people" / name / f"{name}{number}.png").convert("RGB")


@functools.cache
def _group() -> tuple[Image.Image, tuple[tuple[float, float, str], ...]]:
    labels = json.loads((FACES_DIR / "groups" / "labels.json").read_text())[GROUP]
    image = Image.open(FACES_DIR / "groups" / GROUP).convert("RGB")
    return image, tuple((float(lab["center"][0]), float(lab["center"][1]), str(lab["name"])) for lab in labels)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _feathered(size: tuple[int, int], margin: int = 3) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, (margin, margin, size[0] - margin, size[1] - margin))
    return mask.filter(ImageFilter.GaussianBlur(2))


class Variants:
    """Camera-like variants of the photographs, from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def portrait(self, name: str, number: int, vary: bool = True) -> Scene:
        """The portrait in a 480x360 frame: varied (scale, place, crop, light, JPEG) or plain, centred, q 90."""
        rng = self.rng
        side = round(150 * (rng.uniform(0.8, 1.3) if vary else 1.0))
        face = _portrait(name, number).resize((side, side), Image.Resampling.LANCZOS)
        frame = _background(*FRAME, rng)
        if vary:
            left, top = int(rng.integers(30, FRAME[0] - side - 30)), int(rng.integers(20, FRAME[1] - side - 20))
        else:
            left, top = (FRAME[0] - side) // 2, (FRAME[1] - side) // 2
        frame.paste(face, (left, top), _feathered(face.size))
        return self._finish(frame, [(left + side / 2, top + side / 2, name)], vary)

    def group(self, vary: bool = True) -> Scene:
        image, labels = _group()
        scale = self.rng.uniform(0.8, 1.3) if vary else 1.0
        scaled = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        return self._finish(scaled, [(x * scale, y * scale, name) for x, y, name in labels], vary)

    def _finish(self, image: Image.Image, truth: list[tuple[float, float, str]], vary: bool) -> Scene:
        if not vary:
            return Scene(_jpeg(image, 90), tuple(truth))
        rng = self.rng
        left, right, top, bottom = rng.uniform(0.0, 0.04, 4) * np.array([image.width] * 2 + [image.height] * 2)
        box = (round(left), round(top), image.width - round(right), image.height - round(bottom))
        pixels = np.asarray(image.crop(box), np.float32) * rng.uniform(0.7, 1.3)
        varied = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        moved = tuple((x - box[0], y - box[1], name) for x, y, name in truth)
        return Scene(_jpeg(varied, int(rng.integers(50, 96))), moved)

    def tiles(self, columns: int, rows: int) -> Scene:
        """Many portraits in one frame (170 px cells on a wall), each lit differently: many faces a request."""
        cell = 170
        frame = _background(columns * cell, rows * cell, self.rng)
        truth = []
        for row in range(rows):
            for column in range(columns):
                name = PEOPLE[int(self.rng.integers(len(PEOPLE)))]
                face = _portrait(name, int(self.rng.integers(1, 6)))
                lit = np.clip(np.asarray(face, np.float32) * self.rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)
                left, top = column * cell + 10, row * cell + 10
                frame.paste(Image.fromarray(lit), (left, top), _feathered(face.size))
                truth.append((left + 75.0, top + 75.0, name))
        return Scene(_jpeg(frame, 85), tuple(truth))


# The servers


class Server(ServerProcess):
    """A server process with its own data folder and sightings file, ``sightings.*`` set on its command line."""

    def __init__(self, data_dir: Path, settings: dict[str, Any]) -> None:
        self.data_dir = data_dir
        self.settings = settings
        args = ["--set", f"sightings.db_file={data_dir / 'sightings.db'}"]
        for key, value in settings.items():
            args += ["--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
        super().__init__(data_dir, *args)
        self.failures: list[dict[str, Any]] = []

    def call(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json", **params: Any
    ) -> tuple[int, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        request = urllib.request.Request(
            f"{self.url}{path}{'?' + query if query else ''}", data=body, method=method,
            headers={"Content-Type": content_type} if body is not None else {},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")[:500]
        if status >= 500:
            self.failures.append({"request": f"{method} {path} {query}", "status": status, "response": parsed})
        return status, parsed

    def get(self, path: str, **params: Any) -> Any:
        status, body = self.call("GET", path, **params)
        if status != 200:
            raise RuntimeError(f"GET {path} {params}: {status} {body}")
        return body

    def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return self.call("POST", path, json.dumps(body).encode())

    def recognize(self, jpeg: bytes, **params: Any) -> tuple[dict[str, Any], float]:
        start = time.perf_counter()
        status, body = self.call("POST", "/v1/recognize", jpeg, "image/jpeg", **params)
        seconds = time.perf_counter() - start
        if status != 200:
            raise RuntimeError(f"POST /v1/recognize {params}: {status} {body}")
        return body, seconds

    def enrol(self, people: Iterable[str]) -> None:
        for name in people:
            self.post_image("/v1/database/add", (FACES_DIR / "people" / name / f"{name}1.png").read_bytes(), name=name)

    def sightings_health(self) -> dict[str, Any]:
        health: dict[str, Any] = self.get("/health")["sightings"]
        return health

    def all_sightings(self, **filters: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get("/v1/sightings", limit=500, cursor=cursor, **filters)
            found += page["sightings"]
            cursor = page["next_cursor"]
            if not cursor:
                return found

    def file_bytes(self) -> int:
        """The sightings file and its write-ahead log, as they are on disk now."""
        paths = (self.data_dir / "sightings.db", self.data_dir / "sightings.db-wal")
        return sum(path.stat().st_size for path in paths if path.exists())


class Fleet:
    """The servers of a run, started one at a time (starting them at once is slower on a few cores).

    Each has a folder of its own under ``root``; the first one's converted models are shared.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models: Path | None = None
        self.servers: list[Server] = []
        self.failures: list[dict[str, Any]] = []

    def start(self, settings: dict[str, Any], data_dir: Path | None = None) -> Server:
        folder = data_dir or self.root / f"server{len(self.servers)}"
        folder.mkdir(exist_ok=True)
        if self.models is not None and not (folder / "models").exists():
            (folder / "models").symlink_to(self.models)
        server = Server(folder, settings)
        self.servers.append(server)
        server.wait_ready()
        if self.models is None:
            self.models = folder / "models"
        return server

    def stop(self, server: Server) -> None:
        if server.process.poll() is None:
            server.stop()
        self.failures += server.failures
        server.failures = []

    def close(self) -> None:
        for server in self.servers:
            self.stop(server)


# 1. A simulated week


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def _name_class(who: str | None, face: dict[str, Any]) -> str:
    """How a face was named: right, unknown or wrong (for enrolled people); unknown or wrong (for strangers)."""
    if who is None:
        return "nobody expected"
    if face["outcome"] != "named":
        return "unknown"
    return "right" if face["name"] == who else "wrong"


class Costs:
    """Per request timings, with and without a source."""

    def __init__(self) -> None:
        self.http: dict[bool, list[float]] = {True: [], False: []}
        self.server: dict[bool, list[float]] = {True: [], False: []}
        self.stage: list[float] = []  # the sightings stage, ms
        self.stages: dict[bool, list[dict[str, float]]] = {True: [], False: []}  # the server's timings_ms
        self.per_face: list[float] = []  # the sightings stage over the faces stored, ms

    def add(self, with_source: bool, body: dict[str, Any], seconds: float) -> None:
        self.http[with_source].append(seconds)
        self.server[with_source].append(body["timings_ms"]["total"] / 1000)
        self.stages[with_source].append(body["timings_ms"])
        if with_source and body["faces"]:
            stage = float(body["timings_ms"].get("sightings", 0.0))
            self.stage.append(stage)
            self.per_face.append(stage / len(body["faces"]))

    def summary(self) -> dict[str, Any]:
        with_http, without_http = median_ms(self.http[True], 2), median_ms(self.http[False], 2)
        # Both lists grow by one a pair (with and without a source, one after the other): zip pairs them.
        added = [w - o for w, o in zip(self.http[True], self.http[False], strict=True)]
        stage = round(statistics.median(self.stage), 2) if self.stage else None
        server_without = median_ms(self.server[False], 2)
        return {
            "http_with_source_ms": with_http,
            "http_without_source_ms": without_http,
            "http_ratio": _ratio(with_http, without_http),
            "server_with_source_ms": median_ms(self.server[True], 2),
            "server_without_source_ms": server_without,
            "http_added_paired_ms": median_ms(added, 2),
            "sightings_stage_ms": stage,
            "stage_share": _ratio(stage, server_without) if stage is not None else None,
            "sightings_stage_per_face_ms": round(statistics.median(self.per_face), 2) if self.per_face else None,
            "stages_with_source_ms": _stage_medians(self.stages[True]),
            "stages_without_source_ms": _stage_medians(self.stages[False]),
        }


def _stage_medians(stages: list[dict[str, float]]) -> dict[str, float]:
    names = dict.fromkeys(name for timings in stages for name in timings)
    return {name: round(statistics.median(t.get(name, 0.0) for t in stages), 2) for name in names}


def _week_events(counts: Counts, rng: np.random.Generator) -> list[tuple[str, int]]:
    events = [(name, number) for name in PEOPLE for number in counts.images for _ in range(counts.repeats)]
    events += [(GROUP, 0)] * counts.group_repeats
    return [events[i] for i in rng.permutation(len(events))]


def _stream(server: Server, counts: Counts) -> tuple[dict[str, Any], dict[int, str | None], dict[int, str]]:
    """Stream the week's scans; each sighting's true person and its outcome, and what was returned."""
    rng = np.random.default_rng(7)
    variants = Variants(1)
    truth: dict[int, str | None] = {}
    outcome: dict[int, str] = {}
    naming: dict[str, Counter[str]] = {"enrolled": Counter(), "strangers": Counter(), "nobody expected": Counter()}
    costs = Costs()
    requests = faces = 0
    for k, (name, number) in enumerate(_week_events(counts, rng)):
        scene = variants.group() if name == GROUP else variants.portrait(name, number)
        source = CAMERAS[int(rng.integers(len(CAMERAS)))]
        for with_source in (True, False) if k % 2 == 0 else (False, True):
            body, seconds = server.recognize(scene.jpeg, source=source if with_source else None)
            requests += 1
            costs.add(with_source, body, seconds)
            if not with_source:
                continue
            faces += len(body["faces"])
            for face in body["faces"]:
                who = scene.who(face["bbox"])
                truth[face["sighting_id"]] = who
                outcome[face["sighting_id"]] = face["outcome"]
                group = "enrolled" if who in ENROLLED else "strangers" if who in STRANGERS else "nobody expected"
                naming[group][_name_class(who, face)] += 1
    stream = {
        "requests": requests,
        "requests_with_source": requests // 2,
        "faces_returned": faces,
        "named_during_stream": {group: dict(c) for group, c in naming.items()},
        "cost": costs.summary(),
    }
    return stream, truth, outcome


def cluster_purity(members: dict[int, list[int]], truth: dict[int, str | None]) -> dict[str, Any]:
    """Each person's clusters and purity (share of their clustered sightings in clusters of their majority)."""
    majority = {cid: str(Counter(truth.get(s) for s in ids).most_common(1)[0][0]) for cid, ids in members.items()}
    people: dict[str, dict[str, Any]] = {}
    for name in PEOPLE:
        theirs = {cid: sum(truth.get(s) == name for s in ids) for cid, ids in members.items()}
        theirs = {cid: n for cid, n in theirs.items() if n}
        clustered = sum(theirs.values())
        people[name] = {
            "sightings": sum(who == name for who in truth.values()),
            "clustered": clustered,
            "clusters": len(theirs),
            "purity": _ratio(sum(n for cid, n in theirs.items() if majority[cid] == name), clustered),
            "majority_clusters": sorted(cid for cid in members if majority[cid] == name),
        }
    total = sum(len(ids) for ids in members.values())
    pure = sum(sum(str(truth.get(s)) == majority[cid] for s in ids) for cid, ids in members.items())
    return {"people": people, "overall_purity": _ratio(pure, total), "clustered": total}


def simulated_week(server: Server, counts: Counts) -> tuple[dict[str, Any], dict[int, str | None]]:
    server.enrol(ENROLLED)
    stream, truth, outcome = _stream(server, counts)
    listing = server.get("/v1/clusters", low_quality_limit=1)
    members = {
        c["id"]: [s["id"] for s in server.get(f"/v1/clusters/{c['id']}")["sightings"]] for c in listing["clusters"]
    }
    purity = cluster_purity(members, truth)
    for name in STRANGERS:
        person = purity["people"][name]
        person["unknown"] = sum(truth[s] == name and outcome[s] == "unknown" for s in truth)
    health = server.sightings_health()
    week = {
        "settings": server.settings,
        **stream,
        "sightings_stored": health["stored"],
        "distinct_sighting_ids": len(truth),
        "totals": server.get("/v1/sightings/summary")["totals"],
        "unknown_clusters": len(listing["clusters"]),
        "health_unknown_clusters": health["unknown_clusters"],
        "low_quality_unknown": listing["low_quality"]["total"],
        **purity,
        "goals": {"purity": PURITY_GOAL, "clusters": CLUSTERS_GOAL},
    }
    return week, truth


# 2. Labelling the clusters


def _recognised_as(server: Server, scene: Scene, expected: str, **params: Any) -> tuple[str, dict[str, Any] | None]:
    """right, unknown, wrong or missed (no face holds the expected one's centre), and that face."""
    body, _ = server.recognize(scene.jpeg, **params)
    for face in body["faces"]:
        if scene.who(face["bbox"]) == expected:
            return _name_class(expected, face), face
    return "missed", None


def _label_tests(counts: Counts) -> dict[str, list[tuple[str, Scene]]]:
    variants = Variants(2)
    never_streamed = [(name, variants.portrait(name, 1, vary=False)) for name in STRANGERS]
    never_streamed += [(name, variants.portrait(name, 1)) for name in STRANGERS for _ in range(counts.fresh_variants)]
    return {
        "strangers' image 1 (never streamed): plain + fresh variants": never_streamed,
        "all 8 people: fresh variants of the streamed images 2-5": [
            (name, variants.portrait(name, number)) for name in PEOPLE for number in counts.images
        ],
    }


def _evaluate(server: Server, tests: dict[str, list[tuple[str, Scene]]]) -> dict[str, dict[str, int]]:
    results = {}
    for label, scenes in tests.items():
        tally: Counter[str] = Counter()
        for name, scene in scenes:
            tally[_recognised_as(server, scene, name)[0]] += 1
        results[label] = {key: tally[key] for key in ("right", "unknown", "wrong", "missed")}
    return results


def label_clusters(server: Server, week: dict[str, Any], counts: Counts) -> dict[str, Any]:
    tests = _label_tests(counts)
    before = _evaluate(server, tests)
    labels = []
    for name in STRANGERS:
        for cluster_id in week["people"][name]["majority_clusters"]:
            status, body = server.post_json(f"/v1/clusters/{cluster_id}/label", {"name": name})
            labels.append({
                "name": name, "cluster_id": cluster_id, "status": status,
                "samples": len(body.get("face_ids", [])) if status == 200 else None,
                "sightings": len(body.get("sighting_ids", [])) if status == 200 else None,
                "error": None if status == 200 else body,
            })  # fmt: skip
    after = _evaluate(server, tests)
    health = server.get("/health")
    return {
        "labels": labels,
        "identities_after": health["identities"],
        "faces_after": health["faces"],
        "tests": [{"test": label, "before": before[label], "after": after[label]} for label in tests],
    }


# 3. Merging repeats within the window


def merging(server: Server, counts: Counts) -> dict[str, Any]:
    """Bursts: the variants of one image sent one after another, each burst from a camera of its own."""
    variants = Variants(3)
    stored_before = server.sightings_health()["stored"]
    requests = faces = kept_as_one = views = 0
    truths: dict[int, set[str | None]] = {}
    bursts = [(name, number) for name in counts.burst_people for number in counts.images] + [(GROUP, 0)]
    for k, (name, number) in enumerate(bursts):
        seen: dict[str, set[int]] = {}
        for _ in range(counts.burst):
            scene = variants.group() if name == GROUP else variants.portrait(name, number)
            body, _ = server.recognize(scene.jpeg, source=f"camera.burst{k}")
            requests += 1
            faces += len(body["faces"])
            for face in body["faces"]:
                who = scene.who(face["bbox"])
                truths.setdefault(face["sighting_id"], set()).add(who)
                if who is not None:
                    seen.setdefault(who, set()).add(face["sighting_id"])
        views += len(seen)
        kept_as_one += sum(len(ids) == 1 for ids in seen.values())
    stored = server.all_sightings()
    return {
        "settings": server.settings,
        "bursts": len(bursts),
        "requests": requests,
        "faces_returned": faces,
        "sightings_stored": server.sightings_health()["stored"] - stored_before,
        "people_in_bursts": views,
        "kept_as_one": kept_as_one,
        "mixing_two_people": sum(len({w for w in ws if w is not None}) > 1 for ws in truths.values()),
        "times_seen_total": sum(s["times_seen"] for s in stored if s["source"].startswith("camera.burst")),
    }


# 4. Ageing: the retention purge at start-up


def purge_by_age(fleet: Fleet, server: Server) -> tuple[dict[str, Any], Server]:
    """Move the stopped server's sightings back 0.5-10 days in its file; restart it; check what the purge kept."""
    before = {s["id"]: s for s in server.all_sightings()}
    fleet.stop(server)
    ages = {sighting_id: AGES_DAYS[sighting_id % len(AGES_DAYS)] for sighting_id in before}
    with sqlite3.connect(server.data_dir / "sightings.db") as db:
        db.executemany(
            "UPDATE sightings SET first_seen = first_seen - ?, last_seen = last_seen - ? WHERE id = ?",
            [(age * DAY_S, age * DAY_S, sighting_id) for sighting_id, age in ages.items()],
        )
    db.close()
    expected_gone = {
        sighting_id
        for sighting_id, sighting in before.items()
        if ages[sighting_id] > (KEEP_UNKNOWN_DAYS if sighting["outcome"] == "unknown" else KEEP_NAMED_DAYS)
    }
    settings = server.settings | {
        "sightings.keep_unknown_days": KEEP_UNKNOWN_DAYS, "sightings.keep_named_days": KEEP_NAMED_DAYS
    }  # fmt: skip
    restarted = fleet.start(settings, data_dir=server.data_dir)
    after = {s["id"]: s for s in restarted.all_sightings()}
    clusters = restarted.get("/v1/clusters", low_quality_limit=1)["clusters"]
    result = {
        "ages_days": list(AGES_DAYS),
        "keep_unknown_days": KEEP_UNKNOWN_DAYS,
        "keep_named_days": KEEP_NAMED_DAYS,
        "before": len(before),
        "unknown_before": sum(s["outcome"] == "unknown" for s in before.values()),
        "expected_deleted": len(expected_gone),
        "deleted": len(set(before) - set(after)),
        "kept_as_expected": set(after) == set(before) - expected_gone,
        "after": len(after),
        "health_stored_after": restarted.sightings_health()["stored"],
        "clustered_expected_after": sum(
            s["cluster_id"] is not None for i, s in before.items() if i not in expected_gone
        ),
        "clustered_after": sum(s["cluster_id"] is not None for s in after.values()),
        "cluster_sizes_after": sum(c["size"] for c in clusters),
    }
    return result, restarted


# 5. Rejection


def _names(server: Server, scenes: dict[tuple[str, int], Scene], **params: Any) -> dict[tuple[str, int], Any]:
    named = {}
    for (name, number), scene in scenes.items():
        _, face = _recognised_as(server, scene, name, **params)
        named[(name, number)] = (face["name"], face.get("sighting_id")) if face else (None, None)
    return named


def rejection_round(server: Server, threshold: float, numbers: tuple[int, ...]) -> dict[str, Any]:
    server.enrol(ENROLLED)
    variants = Variants(4)
    enrolled = {(name, n): variants.portrait(name, n, vary=False) for name in ENROLLED for n in numbers}
    strangers = {(name, n): variants.portrait(name, n, vary=False) for name in STRANGERS for n in numbers}
    params = {"recognition_threshold": threshold, "source": CAMERAS[0]}
    enrolled_before = _names(server, enrolled, recognition_threshold=threshold)
    first = _names(server, strangers, **params)
    rejected: dict[str, tuple[tuple[str, int], str]] = {}
    statuses: Counter[int] = Counter()
    for name in STRANGERS:
        wrong = [key for key in sorted(first) if key[0] == name and first[key][0] is not None]
        if wrong:
            status, _ = server.post_json(f"/v1/sightings/{first[wrong[0]][1]}/reject", {})
            statuses[status] += 1
            rejected[name] = (wrong[0], first[wrong[0]][0])
    second = _names(server, strangers, **params)
    enrolled_after = _names(server, enrolled, recognition_threshold=threshold)
    others = [key for key in strangers if key[0] in rejected and key != rejected[key[0]][0]]

    def as_rejected(named: dict[tuple[str, int], Any], keys: list[tuple[str, int]]) -> int:
        return sum(named[key][0] == rejected[key[0]][1] for key in keys)

    rejected_keys = [key for key, _ in rejected.values()]
    return {
        "threshold": threshold,
        "stranger_images": len(strangers),
        "wrong_before": sum(first[key][0] is not None for key in strangers),
        "strangers_named_wrong": len(rejected),
        "wrong_names": sorted({f"{key[0]}->{first[key][0]}" for key in strangers if first[key][0] is not None}),
        "rejections": dict(statuses),
        "other_images": len(others),
        "other_wrong_before": sum(first[key][0] is not None for key in others),
        "other_wrong_after": sum(second[key][0] is not None for key in others),
        "other_as_rejected_before": as_rejected(first, others),
        "other_as_rejected_after": as_rejected(second, others),
        "rejected_images_as_rejected_after": as_rejected(second, rejected_keys),
        "wrong_after": sum(second[key][0] is not None for key in strangers),
        "enrolled_images": len(enrolled),
        "enrolled_right_before": sum(enrolled_before[key][0] == key[0] for key in enrolled),
        "enrolled_right_after": sum(enrolled_after[key][0] == key[0] for key in enrolled),
        "enrolled_changed": sum(enrolled_before[key][0] != enrolled_after[key][0] for key in enrolled),
    }


# 6. Store growth under a byte cap


def store_growth(server: Server, counts: Counts) -> dict[str, Any]:
    variants = Variants(5)
    cap = int(counts.store_max_mb * 1024 * 1024)
    created: set[int] = set()
    stage_per_face: list[float] = []
    seconds: list[float] = []
    peak = {"health_bytes": 0, "file_bytes": 0, "stored": 0}
    rss_before = server.rss_mb()
    rss_first = rss_tenth = 0.0
    requests = faces = 0
    while len(created) < counts.store_target:
        scene = variants.tiles(*counts.tiles)
        body, took = server.recognize(scene.jpeg, source=CAMERAS[requests % len(CAMERAS)], max_faces=100)
        requests += 1
        faces += len(body["faces"])
        created.update(face["sighting_id"] for face in body["faces"])
        seconds.append(took)
        stage_per_face.append(body["timings_ms"].get("sightings", 0.0) / max(len(body["faces"]), 1))
        health = server.sightings_health()
        peak["health_bytes"] = max(peak["health_bytes"], health["bytes"])
        peak["stored"] = max(peak["stored"], health["stored"])
        peak["file_bytes"] = max(peak["file_bytes"], server.file_bytes())
        if not body["faces"]:
            raise RuntimeError("a tiled frame gave no face: the run would never end")
        if requests == 1:
            rss_first = server.rss_mb()
        if requests == max(1, counts.store_target // len(scene.truth) // 10):
            rss_tenth = server.rss_mb()
    health = server.sightings_health()
    tenth = max(1, requests // 10)
    return {
        "settings": server.settings,
        "cap_bytes": cap,
        "requests": requests,
        "faces_per_request": round(faces / requests, 1),
        "sightings_created": len(created),
        "stored_end": health["stored"],
        "stored_max": peak["stored"],
        "listed_end": server.get("/v1/sightings", limit=1)["total"],
        "health_bytes_end": health["bytes"],
        "health_bytes_max": peak["health_bytes"],
        "file_bytes_end": server.file_bytes(),
        "file_bytes_max": peak["file_bytes"],
        "within_cap": peak["health_bytes"] <= cap,
        "unknown_clusters_end": health["unknown_clusters"],
        "request_ms_first_tenth": median_ms(seconds[:tenth]),
        "request_ms_last_tenth": median_ms(seconds[-tenth:]),
        "sightings_ms_per_face_first_tenth": round(statistics.median(stage_per_face[:tenth]), 2),
        "sightings_ms_per_face_last_tenth": round(statistics.median(stage_per_face[-tenth:]), 2),
        "sightings_ms_per_face_max": round(max(stage_per_face), 2),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after_first_request": round(rss_first, 1),
        "rss_mb_after_a_tenth": round(rss_tenth, 1),
        "rss_mb_after": round(server.rss_mb(), 1),
    }


# 7. Latency with and without a source


def _latency_images(counts: Counts) -> list[tuple[str, int, bytes]]:
    portrait = Variants(6).portrait("penny", 2, vary=False)
    images = [
        ("1 face, 480x360", 1, portrait.jpeg),
        ("bbt3, 5 faces, 594x383", 5, (FACES_DIR / "groups" / GROUP).read_bytes()),
        *[(frame.name, frame.faces, frame.jpeg) for frame in camera_frames(only_1080p=True)],
    ]
    return images[: counts.latency_images]


def latency(servers: list[tuple[str, Server]], counts: Counts) -> list[dict[str, Any]]:
    """Each image N times with and without a source on every server, the servers and the order taking turns,
    so that a slower spell of the machine falls on every mode alike."""
    rows = []
    source = "camera.latency"
    for name, expected, jpeg in _latency_images(counts):
        costs = {mode: Costs() for mode, _ in servers}
        ids: dict[str, set[int]] = {mode: set() for mode, _ in servers}
        for _, server in servers:
            for with_source in (True, False, True, False):  # warm
                server.recognize(jpeg, source=source if with_source else None)
        for k in range(counts.latency_pairs):
            for mode, server in servers:
                for with_source in (True, False) if k % 2 == 0 else (False, True):
                    body, seconds = server.recognize(jpeg, source=source if with_source else None)
                    costs[mode].add(with_source, body, seconds)
                    ids[mode].update(face["sighting_id"] for face in body["faces"] if "sighting_id" in face)
        for mode, _ in servers:
            summary = costs[mode].summary()
            rows.append({
                "image": name, "faces": expected, "mode": mode, "pairs": counts.latency_pairs,
                "sightings_added": len(ids[mode]), **summary, "goal_ratio": LATENCY_GOAL,
            })  # fmt: skip
    return rows


# The run

NEW_EACH_TIME = {"sightings.merge_window_s": 0}
MERGED = {"sightings.merge_window_s": 60}


def run(smoke: bool) -> dict[str, Any]:
    counts = SMOKE if smoke else FULL
    results: dict[str, Any] = {"smoke": smoke}
    with tempfile.TemporaryDirectory() as root:
        fleet = Fleet(Path(root))
        try:
            week_server = fleet.start(NEW_EACH_TIME)
            results["week"], _ = simulated_week(week_server, counts)
            results["labelling"] = label_clusters(week_server, results["week"], counts)
            fleet.stop(week_server)
            merged = fleet.start(MERGED)
            merged.enrol(ENROLLED)
            results["merging"] = merging(merged, counts)
            results["age_purge"], merged = purge_by_age(fleet, merged)
            results["rejection"] = []
            for threshold in counts.thresholds:
                rejecting = fleet.start(NEW_EACH_TIME)
                results["rejection"].append(rejection_round(rejecting, threshold, counts.reject_images))
                fleet.stop(rejecting)
            store = fleet.start(NEW_EACH_TIME | {
                "sightings.max_mb": counts.store_max_mb, "sightings.max_sightings": counts.store_max_sightings
            })  # fmt: skip
            results["store"] = store_growth(store, counts)
            fleet.stop(store)
            results["latency"] = latency_modes(fleet, merged, counts)
        finally:
            fleet.close()
        results["server_errors"] = fleet.failures
    return results


def latency_modes(fleet: Fleet, merged: Server, counts: Counts) -> list[dict[str, Any]]:
    """On a server that keeps a new sighting each time, on one that merges the repeats (the merging run's), and
    (not in smoke mode) on one with sightings off; all running at once, each with the 4 people enrolled."""
    servers = [("new sighting each time (merge_window_s=0)", fleet.start(NEW_EACH_TIME))]
    servers.append(("merged repeat (merge_window_s=60)", merged))
    if counts.latency_off:
        servers.append(("sightings off (enabled=false)", fleet.start({"sightings.enabled": False})))
    for _, server in servers:
        if server is not merged:
            server.enrol(ENROLLED)
    rows = latency(servers, counts)
    for _, server in servers:
        fleet.stop(server)
    return rows
