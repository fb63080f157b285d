"""Which HEF files each Hailo chip runs, from which Model Zoo release, where they are looked for.

A HEF is compiled by one Dataflow Compiler, which pairs with one HailoRT
line, so the Model Zoo release is chosen from the installed HailoRT version
(Model Zoo changelog: v2.14 <-> HailoRT 4.20 ... v2.17 <-> 4.23; the Hailo-10H
releases carry HailoRT's own version, and the HEF format changed between
5.1.1 and 5.2.0).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from hailo_face_server.config import HailoConfig
from hailo_face_server.runtimes.model_download import DownloadFailed, download
from hailo_face_server.unavailable import BackendUnavailable

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChipModels:
    architecture: str  # as HailoRT names it (DeviceArchitectureTypes)
    folder: str  # the Model Zoo's folder for the chip, also ours under model_dir
    hailort_major: int
    detection: str
    recognition: str


CHIPS = {
    chip.architecture: chip
    for chip in (
        ChipModels("HAILO8", "hailo8", 4, "scrfd_10g", "arcface_mobilefacenet"),
        ChipModels("HAILO8L", "hailo8l", 4, "scrfd_2.5g", "arcface_mobilefacenet"),
        ChipModels("HAILO10H", "hailo10h", 5, "scrfd_10g", "arcface_mobilefacenet"),
    )
}

# HailoRT major.minor -> the Model Zoo release compiled for it.
MODEL_ZOO_RELEASES = {
    "4.20": "v2.14.0",
    "4.21": "v2.15.0",  # the driver Home Assistant OS ships
    "4.22": "v2.16.0",
    "4.23": "v2.17.0",
    "5.1": "v5.1.0",
    "5.2": "v5.2.0",
}

# HailoRT 5.1.x reads the architecture from fuses and may call a Hailo-10H a
# HAILO15H; under 5.x that name means a Hailo-10H (as hailo-apps maps it).
ARCHITECTURE_ALIASES_5X = {"HAILO15H": "HAILO10H"}


def chip_name(reported: str, hailort: str) -> str:
    """The chip's name for the table above, from what ``identify()`` reported under this HailoRT."""
    if hailort.startswith("5."):
        return ARCHITECTURE_ALIASES_5X.get(reported, reported)
    return reported


def model_zoo_release(hailort: str) -> str:
    """The Model Zoo release whose HEFs this HailoRT version loads."""
    release = MODEL_ZOO_RELEASES.get(".".join(hailort.split(".")[:2]))
    if release is None:
        known = ", ".join(f"{line}.x" for line in MODEL_ZOO_RELEASES)
        raise BackendUnavailable(
            f"HailoRT {hailort} is not one Hailo Face knows the Model Zoo release for (known: {known}). "
            "Set hailo.detection_hef and hailo.recognition_hef to HEFs compiled for it, "
            "or hailo.model_zoo_url to a folder laid out as the Model Zoo's.",
            "unknown_hailort",
        )
    return release


def chip_models(architecture: str, hailort: str) -> ChipModels:
    chip = CHIPS.get(architecture)
    if chip is None:
        raise BackendUnavailable(
            f"This Hailo chip ({architecture}) is not supported; Hailo Face runs on {', '.join(sorted(CHIPS))}.",
            "unsupported_chip",
        )
    if not hailort.startswith(f"{chip.hailort_major}."):
        raise BackendUnavailable(
            f"{architecture} needs HailoRT {chip.hailort_major}.x, but HailoRT {hailort} is installed.",
            "hailort_mismatch",
        )
    return chip


def model_url(model_zoo_url: str, release: str, chip: ChipModels, model: str) -> str:
    return f"{model_zoo_url.rstrip('/')}/{release}/{chip.folder}/{model}.hef"


@dataclass(frozen=True)
class HefFiles:
    detection: Path
    recognition: Path


def locate_hefs(config: HailoConfig, chip: ChipModels, hailort: str) -> HefFiles:
    """The HEF paths: configured ones, or model_dir/<release>/<chip folder>/<model>.hef.

    The folders mirror the Model Zoo's, so a HailoRT upgrade never loads a HEF
    of the previous release; explicit HEFs work under any HailoRT version.
    """
    detection = Path(config.detection_hef) if config.detection_hef else None
    recognition = Path(config.recognition_hef) if config.recognition_hef else None
    if detection and recognition:
        folder = config.model_dir
    else:
        folder = config.model_dir / model_zoo_release(hailort) / chip.folder
    files = HefFiles(
        detection=detection or folder / f"{chip.detection}.hef",
        recognition=recognition or folder / f"{chip.recognition}.hef",
    )
    for path, model, configured in (
        (files.detection, chip.detection, detection),
        (files.recognition, chip.recognition, recognition),
    ):
        if path.is_file():
            continue
        if configured:
            raise BackendUnavailable(f"Missing HEF: {path} (the configured file).", "missing_model")
        url = model_url(config.model_zoo_url, model_zoo_release(hailort), chip, model)
        if config.download_missing:
            _LOGGER.info("Downloading the %s model %s from %s to %s (once)", chip.folder, model, url, path)
            try:
                size = download(url, path)
            except DownloadFailed as err:
                raise BackendUnavailable(
                    f"Cannot download {url}: {err}. Put the file at {path} by hand.", "download_failed"
                ) from err
            _LOGGER.info("Downloaded %s (%.1f MB)", path, size / 1e6)
            continue
        raise BackendUnavailable(
            f"Missing HEF: {path} (the {chip.folder} model {model} for HailoRT {hailort}). "
            f"Download {url} to {path} (see docs/hailo.md).",
            "missing_model",
        )
    return files
