"""Recognition accuracy of the CPU backend with each detector, on ../shared/faces.

``python -m bench.accuracy``: for each CPU detector, the 8 people are taught
from their first portrait and images 2-5 are recognised (right, unknown,
wrong), the group photos' faces are named against their labels, and the 780
pairs of the 40 portraits are verified at the model's calibrated centre.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.images import FACES_DIR
from hailo_face_server.backends.cpu import CALIBRATION, CpuBackend
from hailo_face_server.imaging import decode_image
from hailo_face_server.pipeline import DetectOptions, FacePipeline, Timings

PEOPLE = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart")
OPTIONS = DetectOptions(threshold=0.5, min_face_size=40, max_faces=10)


def embed_all(pipeline: FacePipeline, path: Path) -> tuple[np.ndarray, np.ndarray]:
    frame = decode_image(path.read_bytes(), 10**8).frame
    analysis = pipeline.analyze(frame, OPTIONS, Timings())
    assert analysis.embeddings is not None
    return analysis.detections.boxes, analysis.embeddings


def group_photos(pipeline: FacePipeline, gallery: np.ndarray, names: list[str], threshold: float) -> tuple[int, int]:
    """Faces of the group photos named as their labels say, and how many there are."""
    labels = json.loads((FACES_DIR / "groups" / "labels.json").read_text())
    right = total = 0
    for photo, faces in labels.items():
        boxes, vectors = embed_all(pipeline, FACES_DIR / "groups" / photo)
        for label in faces:
            total += 1
            x, y = label["center"]
            inside = [i for i, b in enumerate(boxes) if b[0] <= x <= b[2] and b[1] <= y <= b[3]]
            if inside and label["name"] in names:
                similarities = gallery @ vectors[inside[0]]
                best = int(np.argmax(similarities))
                right += int(names[best] == label["name"] and similarities[best] >= threshold)
    return right, total


def verified_pairs(portraits: dict[tuple[str, int], np.ndarray | None], threshold: float) -> tuple[int, int]:
    """Pairs of portraits told right (same person: at or over the threshold), and how many pairs."""
    found = {key: vector for key, vector in portraits.items() if vector is not None}
    right = total = 0
    for (a, va), (b, vb) in itertools.combinations(found.items(), 2):
        total += 1
        right += int((float(va @ vb) >= threshold) == (a[0] == b[0]))
    return right, total


def measure(detector: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as cache:
        backend = CpuBackend(detector=detector, model_cache_dir=Path(cache))
        try:
            pipeline = FacePipeline(backend)
            portraits: dict[tuple[str, int], np.ndarray | None] = {}
            for name in PEOPLE:
                for number in range(1, 6):
                    _, vectors = embed_all(pipeline, FACES_DIR / "people" / name / f"{name}{number}.png")
                    portraits[(name, number)] = vectors[0] if len(vectors) else None
            taught = {name: portraits[(name, 1)] for name in PEOPLE}
            names = list(taught)
            gallery = np.stack([taught[n] for n in names])
            threshold = CALIBRATION.similarity_at(0.5)
            right = unknown = 0
            wrong: list[str] = []
            for name in PEOPLE:
                for number in range(2, 6):
                    vector = portraits[(name, number)]
                    if vector is None:
                        unknown += 1
                        continue
                    similarities = gallery @ vector
                    best = int(np.argmax(similarities))
                    if similarities[best] < threshold:
                        unknown += 1
                    elif names[best] == name:
                        right += 1
                    else:
                        wrong.append(f"{name}{number}->{names[best]}")
            group_right, group_total = group_photos(pipeline, gallery, names, threshold)
            pairs_right, pairs = verified_pairs(portraits, threshold)
        finally:
            backend.close()
    return {
        "detector": detector,
        "portraits_right": right,
        "portraits_unknown": unknown,
        "portraits_wrong": wrong,
        "portraits_found": sum(v is not None for v in portraits.values()),
        "group_faces_right": f"{group_right}/{group_total}",
        "verification": f"{pairs_right}/{pairs} = {100 * pairs_right / pairs:.2f} %",
    }


if __name__ == "__main__":
    for detector in sys.argv[1:] or ("yunet", "hog"):
        print(json.dumps(measure(detector)))
