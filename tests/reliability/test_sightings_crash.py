"""Power cuts while the cameras are busy: SIGKILL during a burst of sightings, labels and rejects, many times.

Every acknowledged sighting survives (in the file and through the API), every
acknowledged label, reject and delete holds, both SQLite files pass
``PRAGMA integrity_check``, nothing is half-written (a crop or embedding
without its sighting, a sighting without them), and the unknown-face clusters
are rebuilt from the file at start.

SIGHTINGS_CRASH_ROUNDS sets the number of kills (default 5, about 30 s);
SIGHTINGS_CRASH_SEED replays a run (the seed is in every failure message).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import sqlite3
import threading
import urllib.error
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.reliability.conftest import Server
from tests.support import FACES_DIR, PEOPLE

ROUNDS = int(os.environ.get("SIGHTINGS_CRASH_ROUNDS", "5"))
SEED = int(os.environ.get("SIGHTINGS_CRASH_SEED", str(random.randrange(2**32))))
SOURCES = ("camera.front_door", "camera.garden")
KNOWN = "amy"  # taught once, in the first round; everyone else is a stranger until labelled
LABELS = ("visitor one", "visitor two", "penny")
PNG = {"Content-Type": "image/png"}
JSON = {"Content-Type": "application/json"}
# What a request to a server that is being killed raises: the answer never came.
GONE = (OSError, urllib.error.URLError, http.client.HTTPException, ValueError)
# Refusals an action may get that are not a fault: the gallery's limits, a busy server, and for a
# cluster, that it merged into another between the listing and the action. A sighting an action
# names by id exists and is as recognised (each is acted on once): a 404 or 409 for it is a fault.
REFUSALS = frozenset({"too_many_samples", "gallery_full", "server_busy", "timeout"})
CLUSTER_REFUSALS = REFUSALS | {"not_found"}
ANY_ID_ACTIONS = ("label", "ignore", "reject", "delete")  # act on the sighting ids they name
CLUSTER_ACTIONS = ("label_cluster", "ignore_cluster")  # act on whoever is in the cluster when they run


def sightings_server(data_dir: Path, port: int | None) -> Server:
    return Server(
        data_dir, "--set", "database.backup_enabled=false", "--set", "sightings.merge_window_s=0", port=port,
    )  # fmt: skip


@dataclass
class Ledger:
    """What the server acknowledged, and so must keep; shared by the client threads."""

    target: int = 0  # acknowledged answers after which the server is killed
    answered: int = 0
    sightings: set[int] = field(default_factory=set)
    this_round: set[int] = field(default_factory=set)
    unknown_pool: list[int] = field(default_factory=list)  # acknowledged, no action taken on them yet
    named_pool: list[int] = field(default_factory=list)
    expected: dict[int, dict[str, Any]] = field(default_factory=dict)  # sighting id -> fields it must have
    deleted: set[int] = field(default_factory=set)
    uncertain: set[int] = field(default_factory=set)  # an action on them was cut short by a kill
    faces: set[int] = field(default_factory=set)  # gallery samples acknowledged (taught or from labels)
    negatives: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (identity id, sighting id)
    in_flight: tuple[str, list[int]] | None = None
    faults: list[str] = field(default_factory=list)  # 5xx and other answers that must not happen
    lock: threading.Condition = field(default_factory=threading.Condition)
    reached: threading.Event = field(default_factory=threading.Event)

    def acknowledge(self) -> None:
        """Called with the lock held, once per acknowledged answer."""
        self.answered += 1
        if self.answered >= self.target:
            self.reached.set()
        self.lock.notify_all()

    def recognized(self, faces: list[dict[str, Any]]) -> None:
        with self.lock:
            for face in faces:
                sighting_id = face["sighting_id"]
                if sighting_id in self.sightings:  # (checked here, in a client thread: recorded, not raised)
                    self.faults.append(f"sighting id {sighting_id} given twice")
                self.sightings.add(sighting_id)
                self.this_round.add(sighting_id)
                pool = self.unknown_pool if face["outcome"] == "unknown" else self.named_pool
                if face["outcome"] != "ignored":
                    pool.append(sighting_id)
            self.acknowledge()

    def mark(self, sighting_id: int, outcome: str, identity_id: int | None, rejected: int | None) -> None:
        if sighting_id not in self.uncertain:
            self.expected[sighting_id] = {"outcome": outcome, "identity_id": identity_id, "rejected": rejected}

    def labelled(self, kind: str, answer: dict[str, Any]) -> None:
        identity = answer["identity"]["id"]
        outcome = "ignored" if kind.startswith("ignore") else "named"
        for sighting_id in answer["sighting_ids"]:
            before = self.expected.get(sighting_id, {}).get("rejected")
            self.mark(sighting_id, outcome, identity, None if before == identity else before)
        self.faces.update(answer["face_ids"])

    def cut_short(self) -> None:
        """An action whose answer never came (a kill), or a refused one, may have happened in part."""
        if self.in_flight is None:
            return
        kind, ids = self.in_flight
        if kind in CLUSTER_ACTIONS:  # any unknown sighting in a cluster may have been labelled
            ids = [i for i, fields in self.expected.items() if fields["outcome"] == "unknown"]
        self.uncertain.update(ids)
        for sighting_id in ids:
            self.expected.pop(sighting_id, None)
        self.in_flight = None


def photographs() -> list[tuple[str, bytes]]:
    people = [(f"{name}{n}", (FACES_DIR / "people" / name / f"{name}{n}.png").read_bytes()) for name in PEOPLE
              for n in range(2, 6)]  # fmt: skip
    return [*people, ("bbt3 (a group)", (FACES_DIR / "groups" / "bbt3.jpg").read_bytes())]


def recognize_until_killed(server: Server, ledger: Ledger, stop: threading.Event, rng: random.Random) -> None:
    images = photographs()
    while not stop.is_set():
        what, image = rng.choice(images)
        kind = "image/jpeg" if image[:2] == b"\xff\xd8" else "image/png"
        source = rng.choice(SOURCES)
        try:
            status, answer = server.request("POST", f"/v1/recognize?source={source}", image, {"Content-Type": kind})
        except GONE:
            return  # the server is gone: this recognition was never acknowledged
        if status == 200:
            ledger.recognized(answer["faces"])
        elif status != 503:
            with ledger.lock:
                ledger.faults.append(f"recognize {what} at {source}: {status} {answer!r:.300}")


def review_until_killed(server: Server, ledger: Ledger, stop: threading.Event, rng: random.Random) -> None:
    """One owner, one action at a time: label, ignore, reject, delete sightings, label and ignore clusters."""
    while not stop.is_set():
        kind = rng.choices([*ANY_ID_ACTIONS, *CLUSTER_ACTIONS], weights=[4, 1, 3, 1, 1, 1])[0]
        try:
            if kind in CLUSTER_ACTIONS:
                status, listing = server.request("GET", "/v1/clusters")
                if status != 200:
                    with ledger.lock:
                        ledger.faults.append(f"GET /v1/clusters: {status} {listing!r:.300}")
                    continue
                if not listing["clusters"]:
                    with ledger.lock:
                        ledger.lock.wait(1.0)  # until more is recognised (or the deadline: try again)
                    continue
                cluster_id = rng.choice(listing["clusters"])["id"]
                request = action_on_cluster(kind, cluster_id, rng)
                ids: list[int] = []
            else:
                with ledger.lock:
                    pool = ledger.named_pool if kind == "reject" else ledger.unknown_pool
                    if kind == "delete":
                        pool = rng.choice([ledger.named_pool, ledger.unknown_pool])
                    if not pool:
                        ledger.lock.wait(1.0)
                        continue
                    count = min(len(pool), rng.randint(1, 3) if kind in ("label", "ignore") else 1)
                    ids = [pool.pop(rng.randrange(len(pool))) for _ in range(count)]
                request = action_on_sightings(kind, ids, rng)
            with ledger.lock:
                ledger.in_flight = (kind, ids)
            status, answer = server.request(*request)
        except GONE:
            return  # killed mid-action: ledger.cut_short decides what is known of it
        with ledger.lock:
            if status == 200:
                ledger.in_flight = None
                record(ledger, kind, ids, answer)
                ledger.acknowledge()
                continue
            code = answer.get("error", {}).get("code") if isinstance(answer, dict) else None
            if code not in (CLUSTER_REFUSALS if kind in CLUSTER_ACTIONS else REFUSALS):
                ledger.faults.append(f"{request[0]} {request[1]} {request[2]!r}: {status} {answer!r:.300}")
            if code == "not_found":
                ledger.in_flight = None  # the cluster was gone: nothing was done
            else:
                ledger.cut_short()  # e.g. a reject refused while relabelling has stored its negative


def action_on_cluster(kind: str, cluster_id: int, rng: random.Random) -> tuple[str, str, bytes | None, dict[str, str]]:
    if kind == "label_cluster":
        return "POST", f"/v1/clusters/{cluster_id}/label", json.dumps({"name": rng.choice(LABELS)}).encode(), JSON
    return "POST", f"/v1/clusters/{cluster_id}/ignore", b"{}", JSON


def action_on_sightings(kind: str, ids: list[int], rng: random.Random) -> tuple[str, str, bytes | None, dict[str, str]]:
    if kind == "label":
        return (
            "POST",
            "/v1/sightings/label",
            json.dumps({"sighting_ids": ids, "name": rng.choice(LABELS)}).encode(),
            JSON,
        )
    if kind == "ignore":
        return "POST", "/v1/sightings/ignore", json.dumps({"sighting_ids": ids}).encode(), JSON
    if kind == "reject":
        body = {"name": rng.choice(("leonard", "raj"))} if rng.random() < 0.4 else {}
        return "POST", f"/v1/sightings/{ids[0]}/reject", json.dumps(body).encode(), JSON
    return "DELETE", f"/v1/sightings/{ids[0]}", None, {}


def record(ledger: Ledger, kind: str, ids: list[int], answer: dict[str, Any]) -> None:
    """An acknowledged action: what it must have left behind."""
    if kind in ("label", "ignore"):
        if sorted(answer["sighting_ids"]) != sorted(ids):
            ledger.faults.append(f"{kind} of {ids} marked {answer['sighting_ids']}")
        ledger.labelled(kind, answer)
    elif kind in CLUSTER_ACTIONS:
        ledger.labelled(kind, answer)
    elif kind == "reject":
        (sighting_id,) = ids
        rejected = answer["rejected"]["id"]
        ledger.negatives[answer["negative"]["id"]] = (rejected, sighting_id)
        ledger.mark(sighting_id, "unknown", None, rejected)
        if answer["relabelled"] is not None:
            ledger.labelled("label", answer["relabelled"])
    else:
        ledger.deleted.update(ids)
        for sighting_id in ids:
            ledger.expected.pop(sighting_id, None)


class Row(NamedTuple):
    outcome: str
    identity_id: int | None
    identity_name: str | None
    rejected: int | None
    cluster_id: int | None


@dataclass(frozen=True)
class Stored:
    """What the two files held after a kill."""

    sightings: dict[int, Row]
    clusters: dict[int, set[int]]
    counts: dict[str, int]


def check_files(data_dir: Path, copy_to: Path, ledger: Ledger, context: str) -> Stored:
    """The files as the kill left them (a copy, so the restarted server recovers the originals itself)."""
    copy_to.mkdir()
    for name in ("faces.db", "faces.db-wal", "sightings.db", "sightings.db-wal"):
        if (data_dir / name).exists():
            shutil.copy2(data_dir / name, copy_to / name)
    with (
        closing(sqlite3.connect(copy_to / "faces.db")) as gallery,
        closing(sqlite3.connect(copy_to / "sightings.db")) as store,
    ):
        for db in (gallery, store):
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], context
            assert db.execute("PRAGMA foreign_key_check").fetchall() == [], context
        stored = check_sightings_file(store, ledger, context)
        check_gallery_file(gallery, stored, ledger, context)
    return stored


def check_sightings_file(db: sqlite3.Connection, ledger: Ledger, context: str) -> Stored:
    rows = {
        row[0]: Row(*row[1:])
        for row in db.execute(
            "SELECT id, outcome, identity_id, identity_name, rejected_identity_id, cluster_id FROM sightings"
        )
    }
    lost = ledger.sightings - ledger.deleted - ledger.uncertain - set(rows)
    assert not lost, f"acknowledged sightings lost: {sorted(lost)} ({context})"
    assert not ledger.deleted & set(rows), f"acknowledged deletes undone: {sorted(ledger.deleted & set(rows))}"
    for table in ("sighting_embeddings", "sighting_crops"):
        orphans = db.execute(
            f"SELECT COUNT(*) FROM {table} t LEFT JOIN sightings s ON s.id = t.sighting_id WHERE s.id IS NULL"
        ).fetchone()[0]
        missing = db.execute(
            f"SELECT COUNT(*) FROM sightings s LEFT JOIN {table} t ON t.sighting_id = s.id WHERE t.sighting_id IS NULL"
        ).fetchone()[0]
        assert (orphans, missing) == (0, 0), f"{table}: {orphans} without a sighting, {missing} missing ({context})"
    for sighting_id, fields in ledger.expected.items():
        row = rows[sighting_id]
        assert {"outcome": row.outcome, "identity_id": row.identity_id, "rejected": row.rejected} == fields, (
            f"sighting {sighting_id} after an acknowledged action: {row} ({context})"
        )
    # Only unknown sightings are in clusters; a cluster is named after a sighting id this store gave.
    issued = (db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'sightings'").fetchone() or (0,))[0]
    clusters: dict[int, set[int]] = {}
    for sighting_id, row in rows.items():
        if row.cluster_id is not None:
            assert row.outcome == "unknown", f"sighting {sighting_id} is {row} but in a cluster ({context})"
            assert 1 <= row.cluster_id <= issued, f"cluster {row.cluster_id} names no sighting ever stored ({context})"
            clusters.setdefault(row.cluster_id, set()).add(sighting_id)
    counts = dict(db.execute("SELECT outcome, COUNT(*) FROM sightings GROUP BY outcome").fetchall())
    return Stored(rows, clusters, counts)


def check_gallery_file(db: sqlite3.Connection, stored: Stored, ledger: Ledger, context: str) -> None:
    faces = {row[0] for row in db.execute("SELECT id FROM faces")}
    assert ledger.faces <= faces, f"acknowledged samples lost: {sorted(ledger.faces - faces)} ({context})"
    assert faces == {row[0] for row in db.execute("SELECT face_id FROM embeddings")}, context
    identities = dict(db.execute("SELECT id, name FROM identities").fetchall())
    empty = db.execute(
        "SELECT COUNT(*) FROM identities i WHERE NOT EXISTS (SELECT 1 FROM faces f WHERE f.identity_id = i.id)"
    ).fetchone()[0]
    assert empty == 0, f"{empty} identities without a sample ({context})"
    negatives = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, identity_id, sighting_id FROM negatives")}
    for negative_id, expected in ledger.negatives.items():
        assert negatives.get(negative_id) == expected, f"negative {negative_id} ({context})"
    # Across the files: a sighting names (or rejected) only people the gallery has, by their names.
    for sighting_id, row in stored.sightings.items():
        for referred in (row.identity_id, row.rejected):
            assert referred is None or referred in identities, (
                f"sighting {sighting_id} refers to identity {referred}, which the gallery lacks ({context})"
            )
        if row.identity_id is not None:
            assert row.identity_name == identities[row.identity_id], (sighting_id, row, context)


def check_server(server: Server, stored: Stored, ledger: Ledger, context: str) -> None:
    """The restarted server serves what the files hold; its clusters are rebuilt from them."""
    ids: set[int] = set()
    path = "/v1/sightings?limit=500"
    while True:
        status, page = server.request("GET", path)
        assert status == 200, (page, context)
        ids.update(s["id"] for s in page["sightings"])
        if page["next_cursor"] is None:
            break
        path = f"/v1/sightings?limit=500&cursor={page['next_cursor']}"
    assert ids == set(stored.sightings), context
    assert page["total"] == len(stored.sightings), context
    for sighting_id in sorted(ledger.this_round - ledger.deleted - ledger.uncertain):
        status, sighting = server.request("GET", f"/v1/sightings/{sighting_id}")
        assert status == 200, (sighting_id, sighting, context)
    for sighting_id, fields in ledger.expected.items():
        status, sighting = server.request("GET", f"/v1/sightings/{sighting_id}")
        assert status == 200, (sighting_id, sighting, context)
        seen = {"outcome": sighting["outcome"], "identity_id": sighting["identity_id"]}
        seen["rejected"] = sighting["rejected_identity_id"]
        assert seen == fields, (sighting_id, sighting, context)
    for sighting_id in sorted(ledger.deleted)[-20:]:
        assert server.request("GET", f"/v1/sightings/{sighting_id}")[0] == 404, (sighting_id, context)
    status, listing = server.request("GET", "/v1/clusters?low_quality_limit=500")
    assert status == 200, (listing, context)
    assert {c["id"]: c["size"] for c in listing["clusters"]} == {k: len(v) for k, v in stored.clusters.items()}, context
    for cluster in listing["clusters"]:
        status, detail = server.request("GET", f"/v1/clusters/{cluster['id']}")
        assert status == 200, (detail, context)
        assert {s["id"] for s in detail["sightings"]} == stored.clusters[cluster["id"]], context
        assert set(cluster["best_sighting_ids"]) <= stored.clusters[cluster["id"]], context
    status, health = server.request("GET", "/health")
    assert status == 200, context
    assert health["sightings"]["stored"] == len(stored.sightings), (health, context)
    assert health["sightings"]["unknown_clusters"] == len(stored.clusters), (health, context)  # rebuilt in memory
    status, summary = server.request("GET", "/v1/sightings/summary")
    assert status == 200, (summary, context)
    assert summary["totals"]["sightings"] == len(stored.sightings), (summary, context)
    for outcome in ("named", "unknown", "ignored"):
        assert summary["totals"][outcome] == stored.counts.get(outcome, 0), (summary, context)


def run_round(server: Server, ledger: Ledger, rng: random.Random) -> None:
    """Recognitions from two cameras and one owner reviewing, until the server is killed."""
    stop = threading.Event()
    with ledger.lock:
        ledger.this_round = set()
        ledger.target = ledger.answered + rng.randint(3, 80)
        ledger.reached.clear()
    threads = [
        threading.Thread(target=recognize_until_killed, args=(server, ledger, stop, random.Random(rng.random())))
        for _ in range(2)
    ]
    threads.append(
        threading.Thread(target=review_until_killed, args=(server, ledger, stop, random.Random(rng.random())))
    )
    for thread in threads:
        thread.start()
    try:
        assert ledger.reached.wait(60), f"no {ledger.target} answers within 60 s: {server.log.read_text()[-2000:]}"
    finally:
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(90)
    with ledger.lock:
        ledger.cut_short()


def test_sigkill_during_a_burst_of_sightings_loses_no_acknowledged_one(servers: list[Server], tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    ledger = Ledger()
    port = None
    stored: Stored | None = None
    for number in range(ROUNDS + 1):
        context = f"round {number}, SIGHTINGS_CRASH_SEED={SEED}"
        server = sightings_server(data_dir, port)
        servers.append(server)
        port = server.port
        server.wait_ready()
        if stored is not None:
            check_server(server, stored, ledger, context)  # what the previous kill left
        if number == ROUNDS:
            break
        if number == 0:
            photo = (FACES_DIR / "people" / KNOWN / f"{KNOWN}1.png").read_bytes()
            status, taught = server.request("POST", f"/v1/database/add?name={KNOWN}", photo, PNG)
            assert status == 201, taught
            ledger.faces.add(taught["face_id"])
        run_round(server, ledger, rng)
        assert not ledger.faults, "\n".join([context, *ledger.faults[:20]])
        stored = check_files(data_dir, tmp_path / f"after-kill-{number}", ledger, context)
    assert ledger.sightings, "no sighting was acknowledged between the kills"
    log = "".join(s.log.read_text() for s in servers)
    assert "Traceback" not in log and "Unexpected error" not in log, log[-3000:]


def test_data_dir_holds_the_sightings_file_too(
    servers: list[Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "working-directory"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # where the server is started from; its stray data/ lands here, not in the repo
    server = Server(tmp_path / "state", "--set", "database.backup_enabled=false")
    servers.append(server)
    server.wait_ready()
    photo = (FACES_DIR / "people" / "raj" / "raj2.png").read_bytes()
    status, answer = server.request("POST", "/v1/recognize?source=camera.front_door", photo, PNG)
    assert status == 200 and answer["faces"][0]["sighting_id"] == 1, answer
    assert (tmp_path / "state" / "sightings.db").exists(), sorted(str(p) for p in tmp_path.rglob("sightings.db"))
