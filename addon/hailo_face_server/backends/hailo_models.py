"""Which HEF files each Hailo chip runs, where they are looked for, where they come from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hailo_face_server.backends.base import BackendUnavailable
from hailo_face_server.config import HailoConfig

MODEL_ZOO_URL = "https://hailo-model-zoo.s3.eu-west-2.amazonaws.com/ModelZoo/Compiled"


@dataclass(frozen=True)
class ChipModels:
    architecture: str  # as HailoRT names it (DeviceArchitectureTypes)
    folder: str  # the Model Zoo's folder for the chip, also ours under model_dir
    model_zoo_version: str
    hailort_major: int
    detection: str
    recognition: str

    def url(self, model: str) -> str:
        return f"{MODEL_ZOO_URL}/{self.model_zoo_version}/{self.folder}/{model}.hef"


CHIPS = {
    chip.architecture: chip
    for chip in (
        ChipModels("HAILO8", "hailo8", "v2.17.0", 4, "scrfd_10g", "arcface_mobilefacenet"),
        ChipModels("HAILO8L", "hailo8l", "v2.17.0", 4, "scrfd_2.5g", "arcface_mobilefacenet"),
        ChipModels("HAILO10H", "hailo10h", "v5.2.0", 5, "scrfd_10g", "arcface_mobilefacenet"),
    )
}


@dataclass(frozen=True)
class HefFiles:
    detection: Path
    recognition: Path


def chip_models(architecture: str) -> ChipModels:
    chip = CHIPS.get(architecture)
    if chip is None:
        raise BackendUnavailable(
            f"This Hailo chip ({architecture}) is not supported; Hailo Face runs on {', '.join(sorted(CHIPS))}."
        )
    return chip


def locate_hefs(config: HailoConfig, chip: ChipModels) -> HefFiles:
    """The HEF paths for this chip: configured ones, or model_dir/<chip folder>/<model>.hef."""
    detection = Path(config.detection_hef) if config.detection_hef else None
    recognition = Path(config.recognition_hef) if config.recognition_hef else None
    files = HefFiles(
        detection=detection or config.model_dir / chip.folder / f"{chip.detection}.hef",
        recognition=recognition or config.model_dir / chip.folder / f"{chip.recognition}.hef",
    )
    for path, model, configured in (
        (files.detection, chip.detection, detection),
        (files.recognition, chip.recognition, recognition),
    ):
        if not path.is_file():
            source = "the configured file" if configured else f"the {chip.folder} model {model}"
            raise BackendUnavailable(
                f"Missing HEF: {path} ({source}). Download {chip.url(model)} to {path} (see docs/hailo.md)."
            )
    return files
