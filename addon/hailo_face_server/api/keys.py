"""The application's keys: what handlers find on ``request.app``."""

from __future__ import annotations

from aiohttp import web

from hailo_face_server.service import FaceService

SERVICE: web.AppKey[FaceService] = web.AppKey("service", FaceService)
