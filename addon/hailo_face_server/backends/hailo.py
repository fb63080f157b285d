"""Hailo backend: SCRFD detection and ArcFace MobileFaceNet embeddings on a Hailo NPU, through one HailoRuntime."""

from __future__ import annotations

from hailo_face_server.backends.base import FaceBackend
from hailo_face_server.config import HailoConfig
from hailo_face_server.detectors.scrfd import ScrfdDetector
from hailo_face_server.embedders.arcface import CALIBRATION, MODEL_ID, ArcfaceEmbedder
from hailo_face_server.runtimes.hailo import HailoRuntime
from hailo_face_server.runtimes.hailo_errors import driver_version
from hailo_face_server.runtimes.hailo_models import chip_models, chip_name, locate_hefs

__all__ = ["CALIBRATION", "MODEL_ID", "HailoBackend"]


class HailoBackend(FaceBackend):
    def __init__(self, config: HailoConfig) -> None:
        runtime = HailoRuntime(timeout_ms=config.timeout_ms, multi_process_service=config.multi_process_service)
        try:
            reported, firmware = runtime.identify()
            library = runtime.library
            architecture = chip_name(reported, library)
            files = locate_hefs(config, chip_models(architecture, library), library)
            detection = runtime.load(files.detection, "Loading the face detector")
            recognition = runtime.load(files.recognition, "Loading the face recognizer")
            detector = ScrfdDetector(runtime, detection)
            embedder = ArcfaceEmbedder(runtime, recognition)
        except BaseException:
            runtime.close()
            raise
        self.runtime = runtime
        super().__init__(
            name="hailo",
            device=f"{architecture} (HailoRT {library}, firmware {firmware})",
            detector=detector,
            embedder=embedder,
            extra={
                "chip": architecture,
                "chip_reported": reported,
                "hailort": library,
                "driver": driver_version(),
                "firmware": firmware,
                "detection_hef": str(files.detection),
                "recognition_hef": str(files.recognition),
            },
            health=lambda: runtime.problem,
            on_close=runtime.close,
        )
