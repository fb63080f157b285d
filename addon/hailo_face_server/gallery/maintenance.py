"""Start-up care of the database file: integrity check and rotating backups."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

BACKUP_PREFIX = "faces-"
BACKUP_SUFFIX = ".db"


def integrity_problems(db_file: Path) -> list[str]:
    """What ``PRAGMA integrity_check`` reports, or an empty list when all is well."""
    try:
        with closing(sqlite3.connect(db_file)) as db:
            messages = [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as err:
        return [str(err)]
    return [] if messages == ["ok"] else messages


def backup_database(db_file: Path, backup_dir: Path, keep: int) -> Path:
    """Copy the database with SQLite's online backup API; keep the newest ``keep`` copies."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backup_dir / f"{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}"
    with closing(sqlite3.connect(db_file)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    for old in list_backups(backup_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return target


def list_backups(backup_dir: Path) -> list[Path]:
    """Backups, oldest first."""
    if not backup_dir.is_dir():
        return []
    return sorted(p for p in backup_dir.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}") if p.is_file())


def set_aside(db_file: Path) -> Path:
    """Move a damaged database (and its WAL files) out of the way; where it went."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = db_file.with_name(f"{db_file.name}.damaged-{stamp}")
    db_file.replace(aside)
    for suffix in ("-wal", "-shm"):
        companion = db_file.with_name(db_file.name + suffix)
        if companion.exists():
            companion.replace(aside.with_name(aside.name + suffix))
    return aside


def restore_latest_backup(db_file: Path, backup_dir: Path) -> Path | None:
    """Copy the newest backup that passes the integrity check to ``db_file``; which one, if any."""
    for backup in reversed(list_backups(backup_dir)):
        if integrity_problems(backup):
            _LOGGER.warning("Backup %s is damaged too; trying an older one", backup)
            continue
        with closing(sqlite3.connect(backup)) as source, closing(sqlite3.connect(db_file)) as target:
            source.backup(target)
        return backup
    return None
