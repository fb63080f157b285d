"""The gallery file's policy at start-up: check it, restore a damaged one, back it up, open it."""

from __future__ import annotations

import logging

from hailo_face_server.backends.base import BackendInfo
from hailo_face_server.config import DatabaseConfig
from hailo_face_server.gallery.gallery import Gallery
from hailo_face_server.gallery.limits import GalleryLimits
from hailo_face_server.gallery.maintenance import (
    backup_database,
    integrity_problems,
    restore_latest_backup,
    set_aside,
)

_LOGGER = logging.getLogger(__name__)


def prepare_database(database: DatabaseConfig) -> bool:
    """Check the database; a damaged one is set aside and the newest good backup restored.

    True when there is a database to back up: the caller does so once it has opened
    (a file that fails to open never rotates good backups out).
    """
    if not database.db_file.exists():
        return False
    problems = integrity_problems(database.db_file)
    if problems:
        aside = set_aside(database.db_file)
        restored = restore_latest_backup(database.db_file, database.backup_path)
        _LOGGER.error(
            "Database integrity check FAILED for %s (%s). Moved it to %s; %s",
            database.db_file,
            "; ".join(problems[:3]),
            aside,
            f"restored the backup {restored}." if restored else "no good backup: starting with an empty gallery.",
        )
        if restored is None:
            return False
    return database.backup_enabled


def back_up_database(database: DatabaseConfig) -> None:
    target = backup_database(database.db_file, database.backup_path, database.backup_keep)
    _LOGGER.info("Backed up the gallery to %s", target)


def open_gallery(database: DatabaseConfig, info: BackendInfo) -> Gallery:
    limits = GalleryLimits(
        max_samples_per_person=database.max_samples_per_person, max_gallery_mb=database.max_gallery_mb
    )
    return Gallery.open(database.db_file, info.model_id, info.embedding_dim, info.calibration, limits=limits)
