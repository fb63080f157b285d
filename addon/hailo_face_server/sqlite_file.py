"""What the gallery and the sightings files share: one connection, WAL, a transaction per write, migrations.

Each file has one connection, used from one thread; every write is one
``BEGIN IMMEDIATE`` transaction; numbered migrations are recorded in ``PRAGMA
user_version``, and a file written by a newer server is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class SchemaTooNew(Exception):
    """The database was written by a newer version of the server."""


def _text(raw: bytes) -> str:
    """Stored text that is not UTF-8 is read with replacement characters, never an error."""
    return raw.decode("utf-8", "replace")


def connect(path: Path, *, synchronous: str, first: Sequence[str] = (), then: Sequence[str] = ()) -> sqlite3.Connection:
    """A connection in WAL mode with foreign keys.

    ``first`` runs before WAL is set (e.g. auto_vacuum, which must precede the first table), ``then`` after.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.text_factory = _text
    for pragma in first:
        db.execute(pragma)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    for pragma in then:
        db.execute(pragma)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, path: Path, migrations: Sequence[Sequence[str]], advice: str) -> None:
    """Run the migrations the file has not had, each in one transaction; SchemaTooNew for a newer file."""
    version = schema_version(db)
    if version > len(migrations):
        raise SchemaTooNew(f"{path} has schema version {version}; this server knows up to {len(migrations)}. {advice}")
    for number, statements in enumerate(migrations[version:], start=version + 1):
        with transaction(db):
            for statement in statements:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
