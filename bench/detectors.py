"""The CPU backend's detectors side by side: dlib's HOG, YuNet, and the face_recognition library.

``python -m bench.detectors [--repeats N]``: for each benchmark image (one face
at 640 px, five faces at 640 px and 1080p, the 1080p frame at 4K), the median
time of decode + detect + align + embed in this process, per detector, and
the face_recognition library's time for the same JPEG in the same run; the
ratio is ours over the library's.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from bench.images import bench_images
from bench.per_image import FaceRecognitionLibrary
from bench.timing import timed_median_ms
from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.imaging import decode_image
from hailo_face_server.pipeline import DetectOptions, FacePipeline, Timings

OPTIONS = DetectOptions(threshold=0.5, min_face_size=40, max_faces=10)


def images() -> list[tuple[str, int, bytes]]:
    found = [(image.name, image.faces, image.jpeg) for image in bench_images()]
    frame = next(jpeg for name, _, jpeg in found if name == "5 faces, 1080p")
    big = Image.open(io.BytesIO(frame)).resize((3840, 2160), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=92)
    return [*found, ("5 faces, 4K", 5, out.getvalue())]


def run(repeats: int) -> list[dict[str, Any]]:
    library = FaceRecognitionLibrary("small")
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        pipelines = {
            detector: FacePipeline(CpuBackend(detector=detector, model_cache_dir=Path(cache)))
            for detector in ("hog", "yunet")
        }

        def ours(pipeline: FacePipeline, jpeg: bytes) -> int:
            frame = decode_image(jpeg, 10**9).frame
            return len(pipeline.analyze(frame, OPTIONS, Timings()).detections)

        for name, faces, jpeg in images():
            row: dict[str, Any] = {"image": name, "faces": faces}
            row["face_recognition_ms"] = timed_median_ms(lambda jpeg=jpeg: library.timed(jpeg), repeats)
            row["face_recognition_found"] = int(library.timed(jpeg)["faces"])
            for detector, pipeline in pipelines.items():
                row[f"{detector}_ms"] = timed_median_ms(lambda p=pipeline, j=jpeg: ours(p, j), repeats)
                row[f"{detector}_found"] = ours(pipeline, jpeg)
                row[f"{detector}_ratio"] = round(row[f"{detector}_ms"] / row["face_recognition_ms"], 3)
            rows.append(row)
        for pipeline in pipelines.values():
            pipeline.backend.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    for row in run(parser.parse_args().repeats):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
