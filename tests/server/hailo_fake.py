"""Helpers for tests that run the Hailo backend on the fake ``hailo_platform`` (tests/fakes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hailo_face_server.runtimes.hailo_models import CHIPS, MODEL_ZOO_RELEASES

FAKES_DIR = Path(__file__).resolve().parents[1] / "fakes"


def install() -> None:
    """Make ``import hailo_platform`` find the fake."""
    if str(FAKES_DIR) not in sys.path:
        sys.path.insert(0, str(FAKES_DIR))


def write_hef(path: Path, network: str, arch: str, hailort: str = "4.21") -> Path:
    """A fake HEF of ``network`` for chip ``arch``, compiled for the HailoRT line ``hailort``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hailo_fake_hef": 1, "network": network, "arch": arch, "hailort": hailort}))
    return path


def write_model_dir(model_dir: Path) -> Path:
    """Every chip's HEFs of every Model Zoo release, laid out as the Model Zoo and the server lay them."""
    for hailort, release in MODEL_ZOO_RELEASES.items():
        for chip in CHIPS.values():
            if hailort.startswith(f"{chip.hailort_major}."):
                for network in (chip.detection, chip.recognition):
                    write_hef(model_dir / release / chip.folder / f"{network}.hef", network, chip.folder, hailort)
    return model_dir
