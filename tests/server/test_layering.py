"""The core (pipeline, backends, gallery, service) imports nothing from aiohttp."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "hailo_face_server.alignment",
    "hailo_face_server.backends.cpu",
    "hailo_face_server.config",
    "hailo_face_server.gallery",
    "hailo_face_server.imaging",
    "hailo_face_server.matching",
    "hailo_face_server.pipeline",
    "hailo_face_server.service",
    "hailo_face_server.engine",
    "hailo_face_server.operations",
    "hailo_face_server.people",
    "hailo_face_server.status",
    "hailo_face_server.sightings.recorder",
    "hailo_face_server.sightings.review",
    "hailo_face_server.worker",
]


def test_core_modules_do_not_import_aiohttp() -> None:
    code = "import sys\n" + "".join(f"import {m}\n" for m in CORE_MODULES) + "print('aiohttp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
