"""Per image: our server over HTTP against the face_recognition library, same images, same run."""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.images import FACES_DIR, BenchImage, bench_images
from bench.server_process import ServerProcess
from bench.timing import median_ms

PEOPLE = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart")
TOLERANCE = 0.6  # face_recognition.compare_faces' default distance


class FaceRecognitionLibrary:
    """The face_recognition library, used as its README shows, with its defaults."""

    def __init__(self, landmarks_model: str) -> None:
        import face_recognition

        self.fr = face_recognition
        self.model = landmarks_model
        self.names: list[str] = []
        self.known: list[np.ndarray] = []

    def encodings(self, image: np.ndarray) -> list[np.ndarray]:
        locations = self.fr.face_locations(image)  # HOG, upsampled once
        return list(self.fr.face_encodings(image, locations, model=self.model))

    def enrol(self, name: str, path: Path) -> None:
        found = self.encodings(self.fr.load_image_file(str(path)))
        if found:
            self.names.append(name)
            self.known.append(found[0])

    def names_in_file(self, path: Path) -> list[tuple[str | None, np.ndarray]]:
        return self.names_in(self.fr.load_image_file(str(path)))

    def names_in(self, image: np.ndarray) -> list[tuple[str | None, np.ndarray]]:
        locations = self.fr.face_locations(image)
        encodings = self.fr.face_encodings(image, locations, model=self.model)
        named = []
        for encoding, (top, right, bottom, left) in zip(encodings, locations, strict=True):
            distances = self.fr.face_distance(self.known, encoding)
            best = int(np.argmin(distances))
            name = self.names[best] if distances[best] <= TOLERANCE else None
            named.append((name, np.array([left, top, right, bottom], float)))
        return named

    def timed(self, jpeg: bytes) -> dict[str, float]:
        start = time.perf_counter()
        image = self.fr.load_image_file(io.BytesIO(jpeg))
        decoded = time.perf_counter()
        locations = self.fr.face_locations(image)
        detected = time.perf_counter()
        encodings = self.fr.face_encodings(image, locations, model=self.model)
        embedded = time.perf_counter()
        for encoding in encodings:
            self.fr.face_distance(self.known, encoding)
        searched = time.perf_counter()
        return {
            "decode": decoded - start,
            "detect": detected - decoded,
            "embed": embedded - detected,
            "search": searched - embedded,
            "total": searched - start,
            "faces": len(locations),
        }


def label_of(box: np.ndarray, labels: list[dict[str, Any]]) -> str | None:
    inside = [
        lab["name"] for lab in labels if box[0] <= lab["center"][0] <= box[2] and box[1] <= lab["center"][1] <= box[3]
    ]
    return inside[0] if len(inside) == 1 else None


def accuracy(
    recognise: Callable[[Path], list[tuple[str | None, np.ndarray]]], people: tuple[str, ...]
) -> dict[str, Any]:
    """Enrolled from image 1: images 2-5 named right / unknown / wrong, and the group photos' faces named right."""
    right = unknown = wrong = 0
    for name in people:
        for number in range(2, 6):
            found = recognise(FACES_DIR / "people" / name / f"{name}{number}.png")
            top = found[0][0] if found else None
            if top == name:
                right += 1
            elif top is None:
                unknown += 1
            else:
                wrong += 1
    labels = json.loads((FACES_DIR / "groups" / "labels.json").read_text())
    group_right = group_total = 0
    for photo in ("bbt1.jpg", "bbt3.jpg"):
        expected = labels[photo]
        group_total += len(expected)
        for name, box in recognise(FACES_DIR / "groups" / photo):
            if name is not None and name == label_of(box, expected):
                group_right += 1
    return {"right": right, "unknown": unknown, "wrong": wrong, "group_right": group_right, "group_total": group_total}


def run(repeats: int, smoke: bool) -> dict[str, Any]:
    people = PEOPLE[:2] if smoke else PEOPLE
    images = bench_images()[:1] if smoke else bench_images()
    results: dict[str, Any] = {"images": [], "accuracy": {}}
    with tempfile.TemporaryDirectory() as data_dir:
        server = ServerProcess(Path(data_dir))
        try:
            server.wait_ready()
            for name in people:
                server.post_image(
                    "/v1/database/add", (FACES_DIR / "people" / name / f"{name}1.png").read_bytes(), name=name
                )

            def ours(path: Path) -> list[tuple[str | None, np.ndarray]]:
                body = server.post_image("/v1/recognize", path.read_bytes())
                return [(face["name"], np.array(face["bbox"])) for face in body["faces"]]

            results["accuracy"]["hailo_face"] = accuracy(ours, people)
            for image in images:
                server.post_image("/v1/recognize", image.jpeg)  # warm
                wall, stages = [], []
                for _ in range(repeats):
                    start = time.perf_counter()
                    body = server.post_image("/v1/recognize", image.jpeg)
                    wall.append(time.perf_counter() - start)
                    stages.append(body["timings_ms"])
                results["images"].append(_ours_row(image, wall, stages, len(body["faces"])))
        finally:
            server.stop()
    for model in ("small", "large"):
        library = FaceRecognitionLibrary(model)
        for name in people:
            library.enrol(name, FACES_DIR / "people" / name / f"{name}1.png")
        results["accuracy"][f"face_recognition_{model}"] = accuracy(library.names_in_file, people)
        for row, image in zip(results["images"], images, strict=True):
            library.timed(image.jpeg)  # warm
            samples = [library.timed(image.jpeg) for _ in range(repeats)]
            row[f"face_recognition_{model}"] = {
                stage: median_ms([s[stage] for s in samples])
                for stage in ("decode", "detect", "embed", "search", "total")
            } | {"faces": samples[0]["faces"]}
    for row in results["images"]:
        row["ratio"] = round(row["hailo_face"]["http_total"] / row["face_recognition_small"]["total"], 2)
        row["ratio_68_point"] = round(row["hailo_face"]["http_total"] / row["face_recognition_large"]["total"], 2)
    return results


def _ours_row(image: BenchImage, wall: list[float], stages: list[dict[str, float]], faces: int) -> dict[str, Any]:
    def stage(name: str) -> float:
        return round(statistics.median(s.get(name, 0.0) for s in stages), 1)

    return {
        "image": image.name,
        "size": f"{image.width}x{image.height}",
        "faces_expected": image.faces,
        "hailo_face": {
            "faces": faces,
            "decode": stage("decode"),
            "detect": stage("detect"),
            "embed_per_face": round(stage("embed") / max(faces, 1), 1),
            "embed": stage("embed"),
            "search": stage("search"),
            "server_total": stage("total"),
            "http_total": median_ms(wall),
        },
    }
