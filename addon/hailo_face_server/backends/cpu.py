"""CPU backend: a detector from the catalogue (YuNet by default, or dlib's HOG), dlib's five points, and
dlib's ResNet descriptor (onnxruntime, or dlib's own in helper processes).
"""

from __future__ import annotations

from pathlib import Path

from hailo_face_server.backends.base import FaceBackend
from hailo_face_server.detectors.catalog import CPU_DETECTORS, LANDMARK_ADAPTERS, CpuParts
from hailo_face_server.embedders.dlib_resnet import CALIBRATION, EMBEDDING_DIM, MODEL_ID, DlibResnetEmbedder
from hailo_face_server.runtimes.dlib_descriptors import default_cache_dir
from hailo_face_server.runtimes.dlib_models import find_model_files, import_dlib
from hailo_face_server.runtimes.onnx_models import ModelUnavailable
from hailo_face_server.unavailable import BackendUnavailable

__all__ = ["CALIBRATION", "EMBEDDING_DIM", "MODEL_ID", "CpuBackend"]


class CpuBackend(FaceBackend):
    def __init__(
        self,
        helper_processes: int | None = None,
        *,
        descriptor: str = "onnxruntime",
        detector: str = "yunet",
        model_cache_dir: Path | None = None,
        scan_threads: int | None = None,
    ) -> None:
        dlib = import_dlib()
        files = find_model_files()
        cache_dir = model_cache_dir or default_cache_dir()
        embedder = DlibResnetEmbedder(dlib, files, descriptor, model_cache_dir, helper_processes)
        try:
            # Requests run one per core: each detects without holding the GIL (onnxruntime)
            # or with a HOG detector of its own, and describes on onnxruntime or a helper.
            parts = CpuParts(dlib, files.shape_predictor, cache_dir, embedder.concurrency, scan_threads)
            try:
                face_detector = CPU_DETECTORS[detector](parts)
            except ModelUnavailable as err:
                raise BackendUnavailable(str(err), "missing_model") from err
            adapter = None
            if face_detector.scheme != embedder.scheme:
                try:
                    adapter = LANDMARK_ADAPTERS[face_detector.scheme, embedder.scheme](parts)
                except BaseException:
                    face_detector.close()
                    raise
        except BaseException:
            embedder.close()
            raise
        super().__init__(
            name="cpu",
            device="cpu",
            detector=face_detector,
            embedder=embedder,
            adapter=adapter,
            extra={"descriptor": embedder.runtime, "concurrency": embedder.concurrency},
        )
        self.info.models["embedder_runtime"] = embedder.runtime
        if adapter is None:
            self.info.models["landmarks"] = parts.predictor.name
