"""The face descriptor: dlib's own ResNet against our onnxruntime conversion of it, same chips, same run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.images import FACES_DIR
from bench.timing import timed_median_ms
from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.imaging import decode_image
from hailo_face_server.runtimes.descriptor_pool import describe_chips
from hailo_face_server.runtimes.dlib_descriptors import OnnxDescriptor
from hailo_face_server.runtimes.dlib_models import find_model_files, import_dlib


def run(repeats: int) -> dict[str, Any]:
    files = find_model_files()
    backend = CpuBackend(helper_processes=0, descriptor="dlib")
    try:
        frame = decode_image((FACES_DIR / "groups" / "bbt3.jpg").read_bytes(), 10**8).frame
        found = backend.detect(frame, min_face_size=40, threshold=0.5)
        chips = backend.align(frame, found)
        chips = np.concatenate([chips, chips[:1]])[:6]  # a batch of six faces
    finally:
        backend.close()
    dlib_model = import_dlib().face_recognition_model_v1(str(files.descriptor))
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        onnx = OnnxDescriptor(files, Path(cache))
        conversion_s = time.perf_counter() - start
        difference = float(np.abs(onnx.describe(chips) - describe_chips(dlib_model, chips)).max())
        rows = {}
        for label, batch in (("1 face", chips[:1]), ("batch of 6", chips)):
            dlib_ms = timed_median_ms(lambda b=batch: describe_chips(dlib_model, b), repeats)
            onnx_ms = timed_median_ms(lambda b=batch: onnx.describe(b), repeats)
            rows[label] = {
                "dlib_ms": dlib_ms,
                "onnxruntime_ms": onnx_ms,
                "onnxruntime_per_face_ms": round(onnx_ms / len(batch), 1),
                "speed_up": round(dlib_ms / onnx_ms, 1),
            }
    return {"conversion_s": round(conversion_s, 2), "max_abs_difference": difference, "rows": rows}
