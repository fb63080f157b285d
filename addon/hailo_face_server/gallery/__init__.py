"""The gallery of known people: SQLite storage and an in-memory search index."""

from __future__ import annotations

from hailo_face_server.gallery.gallery import Gallery

__all__ = ["Gallery"]
