"""Face quality on real portraits put in a camera-like frame: sharp and frontal is good; small, blurred is not.

The portraits (150 x 150 grey tight crops) are pasted in a 1280 x 720 frame on
a smooth, slightly noisy background, as they are or changed with Pillow
(blurred, shrunk, rolled, darkened), and found by the real CPU backend (YuNet
with dlib's five points) so that the boxes and landmarks are the ones the
server would store. The five portraits used face the camera (some of the 40
are turned a little, which frontalness rightly marks down).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageFilter

from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.faces import LandmarkScheme
from hailo_face_server.frames import Frame
from hailo_face_server.sightings.quality import GOOD_QUALITY, FaceQuality, measure_quality
from tests.support import Faces

Point = tuple[float, float]
FRAME_SIZE = (1280, 720)
FRONTAL_PORTRAITS = [("amy", 5), ("leonard", 2), ("penny", 5), ("raj", 1), ("sheldon", 2)]
# The smallest side (from 32 px) at which YuNet still finds each of them in the frame: a face of 28-34 px.
SMALLEST_SIDES = {"amy": 36, "leonard": 32, "penny": 36, "raj": 32, "sheldon": 34}


def background(seed: int = 0) -> Image.Image:
    """A room: smooth muted colour fields and a little sensor noise."""
    rng = np.random.default_rng(seed)
    width, height = FRAME_SIZE
    fields = Image.fromarray(rng.uniform(70, 180, (4, 7, 3)).astype(np.uint8)).resize(
        FRAME_SIZE, Image.Resampling.BICUBIC
    )
    noisy = np.asarray(fields, np.float32) + rng.normal(0, 2, (height, width, 1)).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def in_frame(portrait: Image.Image, side: int = 150, angle: float = 0) -> Image.Image:
    """The portrait at ``side`` px, turned ``angle`` degrees counter-clockwise, in the middle of a frame."""
    picture = portrait.resize((side, side), Image.Resampling.LANCZOS)
    mask = Image.new("L", picture.size, 255)
    if angle:
        picture = picture.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        mask = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    frame = background()
    frame.paste(picture, ((FRAME_SIZE[0] - picture.width) // 2, (FRAME_SIZE[1] - picture.height) // 2), mask)
    return frame


def quality(backend: CpuBackend, image: Image.Image, min_face_size: int = 80) -> FaceQuality:
    """The quality of the one face the backend finds in the frame."""
    frame = Frame.of(np.asarray(image))
    found = backend.detect(frame, min_face_size=min_face_size, threshold=0.5)
    assert len(found) == 1, f"{len(found)} faces found"
    return measure_quality(frame, found.boxes[0], found.landmarks[0], found.scheme)


def portrait(faces: Faces, name: str, number: int) -> Image.Image:
    return Image.open(faces.person(name, number)).convert("RGB")


@pytest.mark.parametrize(("name", "number"), FRONTAL_PORTRAITS)
def test_a_sharp_frontal_portrait_is_good_and_blurring_it_lowers_its_sharpness(
    cpu_backend: CpuBackend, faces: Faces, name: str, number: int
) -> None:
    face = portrait(faces, name, number)
    sharp = quality(cpu_backend, in_frame(face))
    assert sharp.good, sharp
    assert sharp.face_size > 100 and sharp.sharpness > 0.85 and sharp.frontalness > 0.85, sharp

    slightly = quality(cpu_backend, in_frame(face.filter(ImageFilter.GaussianBlur(1.5))))
    strongly = quality(cpu_backend, in_frame(face.filter(ImageFilter.GaussianBlur(3))))
    assert strongly.sharpness < slightly.sharpness < sharp.sharpness
    assert not strongly.good, strongly
    assert abs(strongly.frontalness - sharp.frontalness) < 0.1  # the blur changes the sharpness, not the pose


@pytest.mark.parametrize(("name", "number"), FRONTAL_PORTRAITS)
def test_a_face_shrunk_to_about_30_px_is_not_good_and_enlarged_again_is_not_sharp(
    cpu_backend: CpuBackend, faces: Faces, name: str, number: int
) -> None:
    face = portrait(faces, name, number)
    sharp = quality(cpu_backend, in_frame(face))
    small = quality(cpu_backend, in_frame(face, side=SMALLEST_SIDES[name]), min_face_size=20)
    assert small.face_size < 35
    assert not small.good, small
    assert small.score < 0.3 < sharp.score

    thumbnail = face.resize((32, 32), Image.Resampling.BILINEAR).resize(face.size, Image.Resampling.BILINEAR)
    enlarged = quality(cpu_backend, in_frame(thumbnail))
    assert enlarged.face_size > 100
    assert enlarged.sharpness < sharp.sharpness - 0.3
    assert enlarged.score < sharp.score


@pytest.mark.parametrize(("name", "number"), FRONTAL_PORTRAITS)
def test_a_rolled_head_is_still_frontal(cpu_backend: CpuBackend, faces: Faces, name: str, number: int) -> None:
    face = portrait(faces, name, number)
    upright = quality(cpu_backend, in_frame(face))
    for angle in (20, -20):
        rolled = quality(cpu_backend, in_frame(face, angle=angle))
        assert rolled.frontalness > 0.8, (angle, rolled)
        assert abs(rolled.frontalness - upright.frontalness) < 0.1, (angle, rolled, upright)


def test_yunets_own_five_points_give_the_same_frontalness(cpu_backend: CpuBackend, faces: Faces) -> None:
    """ARCFACE_5 (eye centres, nose tip) and DLIB_5 (eye corners, bottom of the nose) agree on a frontal face."""
    for name, number in FRONTAL_PORTRAITS:
        frame = Frame.of(np.asarray(in_frame(portrait(faces, name, number))))
        arcface = cpu_backend.detector.detect(frame, min_face_size=80, threshold=0.5)
        dlib = cpu_backend.detect(frame, min_face_size=80, threshold=0.5)
        assert arcface.scheme is LandmarkScheme.ARCFACE_5 and dlib.scheme is LandmarkScheme.DLIB_5
        from_arcface = measure_quality(frame, arcface.boxes[0], arcface.landmarks[0], arcface.scheme)
        from_dlib = measure_quality(frame, dlib.boxes[0], dlib.landmarks[0], dlib.scheme)
        assert from_arcface.frontalness > 0.8, (name, number, from_arcface)
        assert abs(from_arcface.frontalness - from_dlib.frontalness) < 0.15, (name, number)


def test_a_dim_noisy_face_measures_less_sharp_not_sharper(cpu_backend: CpuBackend, faces: Faces) -> None:
    """A camera at dusk: 35 % of the light and sensor noise. The noise must not pass for detail."""
    frame = in_frame(portrait(faces, "raj", 1))
    dim = np.asarray(frame.convert("L"), np.float32) * 0.35
    noisy = dim + np.random.default_rng(1).normal(0, 6, dim.shape).astype(np.float32)
    dark = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).convert("RGB")
    clean, dusk = quality(cpu_backend, frame), quality(cpu_backend, dark)
    assert dusk.sharpness < clean.sharpness
    assert abs(dusk.face_size - clean.face_size) < 0.1 * clean.face_size


# Synthetic landmarks: what frontalness measures --------------------------------------------------


def arcface_points(left_eye: Point, right_eye: Point, nose: Point) -> np.ndarray:
    (lx, ly), (rx, ry) = left_eye, right_eye
    mouth_left, mouth_right = (lx, ly + 40), (rx, ry + 40)
    return np.array([left_eye, right_eye, nose, mouth_left, mouth_right], np.float32)


def dlib_points(left_eye: Point, right_eye: Point, nose: Point) -> np.ndarray:
    """Outer and inner corner of each eye, 8 px either side of its centre along x, then the nose."""
    (lx, ly), (rx, ry) = left_eye, right_eye
    return np.array([(lx - 8, ly), (lx + 8, ly), (rx - 8, ry), (rx + 8, ry), nose], np.float32)


@pytest.fixture(scope="module")
def plain_frame() -> Frame:
    return Frame.of(np.asarray(background()))


BOX = np.array([560.0, 300.0, 720.0, 480.0])


@pytest.mark.parametrize(
    ("scheme", "points"), [(LandmarkScheme.ARCFACE_5, arcface_points), (LandmarkScheme.DLIB_5, dlib_points)]
)
def test_frontalness_is_one_with_the_nose_between_the_eyes_and_zero_with_it_at_an_eye(
    plain_frame: Frame, scheme: LandmarkScheme, points: Callable[[Point, Point, Point], np.ndarray]
) -> None:
    centred = measure_quality(plain_frame, BOX, points((600, 360), (680, 360), (640, 400)), scheme)
    halfway = measure_quality(plain_frame, BOX, points((600, 360), (680, 360), (660, 400)), scheme)
    at_left_eye = measure_quality(plain_frame, BOX, points((600, 360), (680, 360), (600, 400)), scheme)
    beyond_right_eye = measure_quality(plain_frame, BOX, points((600, 360), (680, 360), (700, 400)), scheme)
    assert centred.frontalness == pytest.approx(1.0)
    assert halfway.frontalness == pytest.approx(0.5)
    assert at_left_eye.frontalness == pytest.approx(0.0, abs=1e-6)
    assert beyond_right_eye.frontalness == 0.0
    assert at_left_eye.score == pytest.approx(0.0, abs=1e-6) and not at_left_eye.good


def test_frontalness_is_measured_along_the_eye_axis(plain_frame: Frame) -> None:
    """A head rolled 30 degrees, nose straight below the eyes' midpoint in the face: frontal, although not in x."""
    turn = np.deg2rad(30)
    axis, down = np.array([np.cos(turn), np.sin(turn)]), np.array([-np.sin(turn), np.cos(turn)])
    middle = np.array([640.0, 380.0])
    left_eye, right_eye = middle - 40 * axis, middle + 40 * axis
    nose = middle + 40 * down
    points = np.array([left_eye, right_eye, nose, nose + 20 * down - 30 * axis, nose + 20 * down + 30 * axis])
    assert abs(nose[0] - middle[0]) > 15  # in image x the nose is well off the eyes' midpoint
    rolled = measure_quality(plain_frame, BOX, points, LandmarkScheme.ARCFACE_5)
    assert rolled.frontalness == pytest.approx(1.0)


def test_degenerate_input_scores_zero_rather_than_failing(plain_frame: Frame) -> None:
    same_point = np.full((5, 2), 640.0, np.float32)
    assert measure_quality(plain_frame, BOX, same_point, LandmarkScheme.ARCFACE_5).frontalness == 0.0
    outside = measure_quality(plain_frame, np.array([2000.0, 900.0, 2100.0, 1000.0]), same_point, LandmarkScheme.DLIB_5)
    assert outside.sharpness == 0.0 and outside.score == 0.0 and not outside.good


def test_on_a_full_size_face_the_score_is_sharpness_times_frontalness(plain_frame: Frame) -> None:
    """The score is the product of the three factors, and the size factor is 1 from 80 px on."""
    points = arcface_points((600, 360), (680, 360), (650, 400))
    measured = measure_quality(plain_frame, BOX, points, LandmarkScheme.ARCFACE_5)
    assert measured.face_size == 160
    assert measured.score == pytest.approx(measured.sharpness * measured.frontalness)
    assert measured.good == (measured.score >= GOOD_QUALITY)
