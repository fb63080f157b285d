"""Alignment: similarity transforms, the template warp, and dlib's chips."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from hailo_face_server.alignment import TemplateAligner, apply_transform, similarity_transform
from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.frames import Frame
from hailo_face_server.imaging import decode_image
from tests.support import Faces

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def transform(angle_degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = math.radians(angle_degrees)
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.hstack([rotation, np.array(shift)[:, None]])


def test_similarity_transform_recovers_a_known_transform() -> None:
    known = transform(23.0, 1.7, (12.5, -4.0))
    target = apply_transform(known, ARCFACE_TEMPLATE)
    assert np.allclose(similarity_transform(ARCFACE_TEMPLATE, target), known, atol=1e-9)


def test_similarity_transform_never_reflects() -> None:
    mirrored = ARCFACE_TEMPLATE * np.array([-1.0, 1.0])
    matrix = similarity_transform(ARCFACE_TEMPLATE, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def bilinear_reference(pixels: np.ndarray, chip_to_image: np.ndarray, size: int) -> np.ndarray:
    """Chip pixel (x, y) sampled bilinearly at image point M @ (x, y, 1); pixel centres on integers; black outside."""
    height, width, _ = pixels.shape
    chip = np.zeros((size, size, 3))
    for y in range(size):
        for x in range(size):
            u, v = chip_to_image @ np.array([x, y, 1.0])
            x0, y0 = math.floor(u), math.floor(v)
            fx, fy = u - x0, v - y0
            for dx, dy, weight in (
                (0, 0, (1 - fx) * (1 - fy)),
                (1, 0, fx * (1 - fy)),
                (0, 1, (1 - fx) * fy),
                (1, 1, fx * fy),
            ):
                xi, yi = x0 + dx, y0 + dy
                if 0 <= xi < width and 0 <= yi < height:
                    chip[y, x] += weight * pixels[yi, xi]
    return chip


def test_a_chip_with_the_identity_copies_the_image() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    chip = Frame.of(pixels).chip(np.array([[1.0, 0, 0], [0, 1.0, 0]]), 40)
    assert np.array_equal(chip, pixels)


def test_a_chip_outside_the_image_is_black() -> None:
    pixels = np.full((10, 10, 3), 200, np.uint8)
    chip = Frame.of(pixels).chip(np.array([[1.0, 0, 50], [0, 1.0, 50]]), 8)
    assert not chip.any()


def test_a_rotated_chip_samples_the_image_where_the_transform_says() -> None:
    # A smooth image, so that bilinear sampling at a half-pixel offset would differ by far more than rounding.
    ys, xs = np.mgrid[0:120, 0:160]
    pixels = np.stack([xs * 1.5, ys * 2.0, (xs + ys) * 0.7], axis=-1).clip(0, 255).astype(np.uint8)
    matrix = transform(20.0, 1.3, (40.0, 10.0))
    for frame in (Frame.of(pixels), Frame(_image=Frame.of(pixels).image)):
        chip = frame.chip(matrix, 48)
        reference = bilinear_reference(pixels, matrix, 48)
        inside = reference.sum(axis=2) > 0
        assert np.abs(chip[inside].astype(float) - reference[inside]).max() <= 1.5


def test_template_aligner_puts_the_landmarks_on_the_template() -> None:
    # Draw five bright dots, rotate and scale them into a larger image, align back.
    image_to_chip = transform(-15.0, 0.5, (10.0, 20.0))
    chip_to_image = np.vstack([image_to_chip, [0, 0, 1]])
    chip_to_image = np.linalg.inv(chip_to_image)[:2]
    landmarks = apply_transform(chip_to_image, ARCFACE_TEMPLATE)
    pixels = np.zeros((300, 300, 3), np.uint8)
    for x, y in landmarks:
        pixels[round(y) - 2 : round(y) + 3, round(x) - 2 : round(x) + 3] = 255
    (chip,) = TemplateAligner(ARCFACE_TEMPLATE, 112).align(Frame.of(pixels), landmarks[None])
    bright = chip[..., 0] > 100
    for i, (x, y) in enumerate(ARCFACE_TEMPLATE, start=1):
        ys, xs = np.nonzero(bright[int(y) - 4 : int(y) + 5, int(x) - 4 : int(x) + 5])
        assert len(xs), f"landmark {i} is not near its template position"
        centre = (xs.mean() + int(x) - 4, ys.mean() + int(y) - 4)
        assert math.dist(centre, (x, y)) < 1.0, (i, centre, (x, y))


def test_the_template_aligner_fits_landmarks_to_the_template_as_arcface_was_trained() -> None:
    # Detected landmarks are never an exact similarity of the template: the
    # two least-squares fits then differ, and ArcFace (insightface's
    # norm_crop, Hailo's pipelines) uses landmarks -> template.
    rng = np.random.default_rng(7)
    image_to_chip = transform(12.0, 0.8, (-30.0, 15.0))
    chip_to_image = np.linalg.inv(np.vstack([image_to_chip, [0, 0, 1]]))[:2]
    aligner = TemplateAligner(ARCFACE_TEMPLATE, 112)
    scale_differences = []
    for _ in range(50):
        landmarks = apply_transform(chip_to_image, ARCFACE_TEMPLATE) + rng.normal(0, 3.0, (5, 2))
        fitted = aligner.chip_to_image(landmarks)
        expected = np.linalg.inv(np.vstack([similarity_transform(landmarks, ARCFACE_TEMPLATE), [0, 0, 1]]))[:2]
        assert np.allclose(fitted, expected, atol=1e-9)
        # Mapped into the chip, the landmarks land nearer the template than with the reverse fit.
        reverse = similarity_transform(ARCFACE_TEMPLATE, landmarks)
        reverse_inverse = np.linalg.inv(np.vstack([reverse, [0, 0, 1]]))[:2]
        ours = np.linalg.inv(np.vstack([fitted, [0, 0, 1]]))[:2]
        error_ours = np.sum((apply_transform(ours, landmarks) - ARCFACE_TEMPLATE) ** 2)
        error_reverse = np.sum((apply_transform(reverse_inverse, landmarks) - ARCFACE_TEMPLATE) ** 2)
        assert error_ours <= error_reverse + 1e-9
        scale_differences.append(abs(np.linalg.det(fitted[:, :2]) / np.linalg.det(reverse[:, :2]) - 1))
    assert np.median(scale_differences) > 0.002  # the fits differ measurably


def test_dlib_chips_are_dlibs_own(cpu_backend: CpuBackend, faces: Faces) -> None:
    dlib = __import__("dlib")
    frame = decode_image(faces.group("bbt3.jpg").read_bytes(), 10**8).frame
    detections = cpu_backend.detect(frame, min_face_size=40, threshold=0.5)
    chips = cpu_backend.align(frame, detections)  # each cut from the region it covers
    pixels = np.asarray(frame.image)
    assert chips.shape == (5, 150, 150, 3)
    for chip, points in zip(chips, detections.landmarks, strict=True):
        left, top = points.min(axis=0).astype(int)
        right, bottom = points.max(axis=0).astype(int)
        shape = dlib.full_object_detection(
            dlib.rectangle(int(left), int(top), int(right), int(bottom)),
            [dlib.point(round(float(x)), round(float(y))) for x, y in points],  # as the aligner rounds
        )
        reference = np.asarray(dlib.get_face_chip(pixels, shape, size=150, padding=0.25))
        assert np.array_equal(chip, reference)


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Umeyama (1991) through the SVD, reflections excluded: the reference for the closed form."""
    src_mean, dst_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - src_mean, target - dst_mean
    u, singular, vt = np.linalg.svd(dst.T @ src / len(src))
    sign = np.array([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rotation = u @ np.diag(sign) @ vt
    scale = (singular * sign).sum() / ((src**2).sum() / len(src))
    return np.hstack([scale * rotation, (dst_mean - scale * rotation @ src_mean)[:, None]])


def test_the_closed_form_fit_is_umeyamas() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        source, target = rng.normal(0, 50, (5, 2)), rng.normal(0, 50, (5, 2))
        assert np.allclose(similarity_transform(source, target), umeyama(source, target), atol=1e-9)


def test_dlib_chips_of_large_rolled_faces_are_dlibs_own(cpu_backend: CpuBackend, faces: Faces) -> None:
    # dlib samples a large chip rectangle through a pyramid, reading beyond the rectangle.
    dlib = __import__("dlib")
    portrait = Image.open(faces.person("penny", 2)).convert("RGB").resize((450, 450), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (1400, 1400), (90, 110, 100))
    canvas.paste(
        portrait.rotate(40, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(90, 110, 100)), (300, 280)
    )
    pixels = np.asarray(canvas)
    frame = Frame.of(pixels)
    detections = cpu_backend.detect(frame, min_face_size=40, threshold=0.3)
    assert len(detections) == 1
    (chip,) = cpu_backend.align(frame, detections)
    points = detections.landmarks[0]
    left, top = points.min(axis=0).astype(int)
    right, bottom = points.max(axis=0).astype(int)
    shape = dlib.full_object_detection(
        dlib.rectangle(int(left), int(top), int(right), int(bottom)),
        [dlib.point(round(float(x)), round(float(y))) for x, y in points],
    )
    assert np.array_equal(chip, np.asarray(dlib.get_face_chip(pixels, shape, size=150, padding=0.25)))
