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
from numpy.typing import NDArray

from bench.images import FACES_DIR, BenchImage, bench_images, camera_frames
from bench.server_process import ServerProcess
from bench.timing import median_ms

PEOPLE = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart")
TOLERANCE = 0.6  # face_recognition.compare_faces' default distance
# Issue 14's goals: our HTTP time over face_recognition's, per image (images without one: no goal).
GOALS = {"1 face, 640px": 0.15, "5 faces 40-50 px, 1920x1080": 0.10, "5 faces 80-100 px, 3840x2160": 0.05}
MEMORY_GOAL_MB = 300
# The server's stages (its response's timings_ms), in pipeline order; any others follow.
STAGES = ("decode", "queue", "detect", "align", "embed", "search", "total")


class FaceRecognitionLibrary:
    """The face_recognition library, used as its README shows, with its defaults."""

    def __init__(self, landmarks_model: str) -> None:
        import face_recognition  # type: ignore[import-untyped]

        self.fr = face_recognition
        self.model = landmarks_model
        self.names: list[str] = []
        self.known: list[NDArray[Any]] = []

    def encodings(self, image: NDArray[Any]) -> list[NDArray[Any]]:
        locations = self.fr.face_locations(image)  # HOG, upsampled once
        return list(self.fr.face_encodings(image, locations, model=self.model))

    def enrol(self, name: str, path: Path) -> None:
        found = self.encodings(self.fr.load_image_file(str(path)))
        if found:
            self.names.append(name)
            self.known.append(found[0])

    def names_in_file(self, path: Path) -> list[tuple[str | None, NDArray[Any]]]:
        return self.names_in(self.fr.load_image_file(str(path)))

    def names_in(self, image: NDArray[Any]) -> list[tuple[str | None, NDArray[Any]]]:
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
        """Stage times in seconds, and the number of faces."""
        stages, boxes = self.timed_boxes(jpeg)
        return stages | {"faces": len(boxes)}

    def timed_boxes(self, jpeg: bytes) -> tuple[dict[str, float], list[NDArray[Any]]]:
        """Stage times in seconds, and the faces' boxes (x1, y1, x2, y2)."""
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
        stages = {
            "decode": decoded - start,
            "detect": detected - decoded,
            "embed": embedded - detected,
            "search": searched - embedded,
            "total": searched - start,
        }
        return stages, [np.array([left, top, right, bottom], float) for top, right, bottom, left in locations]


def found_faces(boxes: list[NDArray[Any]], image: BenchImage) -> dict[str, int]:
    """Faces found: boxes, the expected faces among them (a box holds the face's centre), and false ones."""
    if not image.centres:
        return {"faces": len(boxes), "found": len(boxes), "false": 0}

    def holds(box: NDArray[Any], centre: tuple[float, float]) -> bool:
        return bool(box[0] <= centre[0] <= box[2] and box[1] <= centre[1] <= box[3])

    found = sum(any(holds(box, centre) for box in boxes) for centre in image.centres)
    false = sum(not any(holds(box, centre) for centre in image.centres) for box in boxes)
    return {"faces": len(boxes), "found": found, "false": false}


def images(smoke: bool) -> list[BenchImage]:
    """The 640 px portrait and group photo, and the camera frames (smoke: the portrait only)."""
    small = [image for image in bench_images() if image.width == 640]
    return small[:1] if smoke else [*small, *camera_frames()]


def label_of(box: NDArray[Any], labels: list[dict[str, Any]]) -> str | None:
    inside = [
        lab["name"] for lab in labels if box[0] <= lab["center"][0] <= box[2] and box[1] <= lab["center"][1] <= box[3]
    ]
    return inside[0] if len(inside) == 1 else None


def accuracy(
    recognise: Callable[[Path], list[tuple[str | None, NDArray[Any]]]], people: tuple[str, ...]
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
        for named, box in recognise(FACES_DIR / "groups" / photo):
            if named is not None and named == label_of(box, expected):
                group_right += 1
    return {"right": right, "unknown": unknown, "wrong": wrong, "group_right": group_right, "group_total": group_total}


def run(repeats: int, smoke: bool) -> dict[str, Any]:
    people = PEOPLE[:2] if smoke else PEOPLE
    chosen = images(smoke)
    results: dict[str, Any] = {"images": [], "accuracy": {}, "memory_goal_mb": MEMORY_GOAL_MB}
    with tempfile.TemporaryDirectory() as data_dir:
        server = ServerProcess(Path(data_dir))
        try:
            server.wait_ready()
            for name in people:
                server.post_image(
                    "/v1/database/add", (FACES_DIR / "people" / name / f"{name}1.png").read_bytes(), name=name
                )

            def ours(path: Path) -> list[tuple[str | None, NDArray[Any]]]:
                body = server.post_image("/v1/recognize", path.read_bytes())
                return [(face["name"], np.array(face["bbox"])) for face in body["faces"]]

            results["accuracy"]["hailo_face"] = accuracy(ours, people)
            for image in chosen:
                server.post_image("/v1/recognize", image.jpeg)  # warm
                wall, stages = [], []
                for _ in range(repeats):
                    start = time.perf_counter()
                    body = server.post_image("/v1/recognize", image.jpeg)
                    wall.append(time.perf_counter() - start)
                    stages.append(body["timings_ms"])
                boxes = [np.array(face["bbox"], float) for face in body["faces"]]
                results["images"].append(_ours_row(image, wall, stages, found_faces(boxes, image)))
            results["server_memory"] = server.memory()
        finally:
            server.stop()
    for model in ("small", "large"):
        library = FaceRecognitionLibrary(model)
        for name in people:
            library.enrol(name, FACES_DIR / "people" / name / f"{name}1.png")
        results["accuracy"][f"face_recognition_{model}"] = accuracy(library.names_in_file, people)
        for row, image in zip(results["images"], chosen, strict=True):
            library.timed(image.jpeg)  # warm
            samples = [library.timed_boxes(image.jpeg) for _ in range(repeats)]
            row[f"face_recognition_{model}"] = {
                stage: median_ms([times[stage] for times, _ in samples])
                for stage in ("decode", "detect", "embed", "search", "total")
            } | found_faces(samples[-1][1], image)
    for row in results["images"]:
        row["ratio"] = round(row["hailo_face"]["http_total"] / row["face_recognition_small"]["total"], 3)
        row["ratio_68_point"] = round(row["hailo_face"]["http_total"] / row["face_recognition_large"]["total"], 3)
    return results


def _ours_row(
    image: BenchImage, wall: list[float], stages: list[dict[str, float]], found: dict[str, int]
) -> dict[str, Any]:
    names = [*STAGES, *sorted({name for s in stages for name in s} - set(STAGES))]
    medians = {
        name: round(statistics.median(s.get(name, 0.0) for s in stages), 1)
        for name in names
        if any(name in s for s in stages)
    }
    embed = medians.get("embed", 0.0)
    return {
        "image": image.name,
        "size": f"{image.width}x{image.height}",
        "faces_expected": image.faces,
        "goal_ratio": GOALS.get(image.name),
        "hailo_face": {
            **found,
            **{name: value for name, value in medians.items() if name != "total"},
            "embed_per_face": round(embed / max(found["faces"], 1), 1),
            "server_total": medians.get("total", 0.0),
            "http_total": median_ms(wall),
        },
    }
