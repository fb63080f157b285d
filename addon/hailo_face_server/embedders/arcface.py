"""ArcFace (MobileFaceNet) on a Hailo: chips aligned to the ArcFace template, one vector per chip."""

from __future__ import annotations

import numpy as np

from hailo_face_server.alignment import ARCFACE_CHIP_SIZE, ARCFACE_TEMPLATE, TemplateAligner
from hailo_face_server.embedders.base import FaceEmbedder, l2_normalize
from hailo_face_server.faces import LandmarkScheme
from hailo_face_server.matching import SimilarityCalibration
from hailo_face_server.runtimes.hailo import HailoNetwork, HailoRuntime
from hailo_face_server.unavailable import BackendUnavailable

MODEL_ID = "arcface_mobilefacenet"
# Not yet measured on a device: typical of ArcFace models (different people
# near 0, the same person 0.5-0.8); see docs/hailo.md.
CALIBRATION = SimilarityCalibration(centre=0.45, width=0.05)


class ArcfaceEmbedder(FaceEmbedder):
    model_id = MODEL_ID
    scheme = LandmarkScheme.ARCFACE_5
    calibration = CALIBRATION

    def __init__(self, runtime: HailoRuntime, network: HailoNetwork) -> None:
        self._runtime = runtime
        self._network = network
        self.name = network.hef.stem
        chip = network.input_shape[0]
        if network.input_shape != (chip, chip, 3) or len(network.output_shapes) != 1:
            raise BackendUnavailable(
                f"{network.hef} takes {network.input_shape} and has {len(network.output_shapes)} "
                "outputs; ArcFace takes S x S x 3 and has one.",
                "wrong_model",
            )
        self.dimension = int(np.prod(next(iter(network.output_shapes.values()))))
        self.aligner = TemplateAligner(ARCFACE_TEMPLATE * chip / ARCFACE_CHIP_SIZE, chip)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        if len(chips) == 0:
            return np.zeros((0, self.dimension), np.float32)
        (output,) = self._runtime.run(self._network, chips).values()
        return l2_normalize(output.reshape(len(chips), -1))
