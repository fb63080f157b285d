"""Which HEF files each Hailo chip runs, where they are looked for, where they come from."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from hailo_face_server.backends.base import BackendUnavailable
from hailo_face_server.backends.model_download import DownloadFailed, download
from hailo_face_server.config import DEFAULT_MODEL_ZOO_URL, HailoConfig


@dataclass(frozen=True)
class ChipModels:
    architecture: str  # as HailoRT names it (DeviceArchitectureTypes)
    folder: str  # the Model Zoo's folder for the chip, also ours under model_dir
    model_zoo_version: str
    hailort_major: int
    detection: str
    recognition: str

    def url(self, model: str, model_zoo_url: str = DEFAULT_MODEL_ZOO_URL) -> str:
        return f"{model_zoo_url.rstrip('/')}/{self.model_zoo_version}/{self.folder}/{model}.hef"


_LOGGER = logging.getLogger(__name__)

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
        if path.is_file():
            continue
        url = chip.url(model, config.model_zoo_url)
        if config.download_missing and not configured:
            _LOGGER.info("Downloading the %s model %s from %s to %s (once)", chip.folder, model, url, path)
            try:
                size = download(url, path)
            except DownloadFailed as err:
                raise BackendUnavailable(f"Cannot download {url}: {err}. Put the file at {path} by hand.") from err
            _LOGGER.info("Downloaded %s (%.1f MB)", path, size / 1e6)
            continue
        source = "the configured file" if configured else f"the {chip.folder} model {model}"
        raise BackendUnavailable(f"Missing HEF: {path} ({source}). Download {url} to {path} (see docs/hailo.md).")
    return files
