"""A consistent copy of the gallery file, made on a connection of its own."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


def copy_database(db_file: Path, target: Path) -> None:
    """Copy ``db_file`` to ``target`` with SQLite's online backup API.

    Its own read connection (WAL lets it read beside the gallery's writer), so
    the copy does not wait in, or hold up, the gallery thread's queue.
    """
    with (
        closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as source,
        closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy, pages=4096)
