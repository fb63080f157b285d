"""Helpers for tests that run the Hailo backend on the fake ``hailo_platform`` (tests/fakes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

FAKES_DIR = Path(__file__).resolve().parents[1] / "fakes"


def install() -> None:
    """Make ``import hailo_platform`` find the fake."""
    if str(FAKES_DIR) not in sys.path:
        sys.path.insert(0, str(FAKES_DIR))


def write_hef(path: Path, network: str, arch: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hailo_fake_hef": 1, "network": network, "arch": arch}))
    return path


def write_model_dir(model_dir: Path) -> Path:
    """HEFs for every chip, laid out as the server looks for them."""
    for folder, detector in (("hailo8", "scrfd_10g"), ("hailo8l", "scrfd_2.5g"), ("hailo10h", "scrfd_10g")):
        write_hef(model_dir / folder / f"{detector}.hef", detector, folder)
        write_hef(model_dir / folder / "arcface_mobilefacenet.hef", "arcface_mobilefacenet", folder)
    return model_dir
