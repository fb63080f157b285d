"""Decoding with limits, and the stored face crops."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from hailo_face_server.errors import ImageTooLarge, InvalidImage, UnsupportedMediaType
from hailo_face_server.frames import Frame
from hailo_face_server.imaging import decode_image, face_crop_jpeg
from tests.support import Faces

LIMIT = 40_000_000


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def test_grey_png_becomes_rgb(faces: Faces) -> None:
    decoded = decode_image(faces.person("amy", 1).read_bytes(), LIMIT)
    assert decoded.pixels.shape == (150, 150, 3)
    assert decoded.pixels.dtype == np.uint8
    assert decoded.pixels.flags.c_contiguous
    assert decoded.format == "PNG"


def test_transparent_and_palette_images_decode() -> None:
    rgba = Image.new("RGBA", (20, 10), (255, 0, 0, 0))
    palette = Image.new("P", (20, 10))
    for image in (rgba, palette):
        assert decode_image(encode(image, "PNG"), LIMIT).pixels.shape == (10, 20, 3)


def test_every_exif_orientation_gives_the_upright_size() -> None:
    stored = Image.new("RGB", (40, 20))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        decoded = decode_image(encode(stored, "JPEG", exif=exif.tobytes()), LIMIT)
        expected = (20, 40) if orientation >= 5 else (40, 20)
        assert (decoded.width, decoded.height) == expected, orientation


def test_every_exif_orientation_turns_the_pixels_as_pillow_does() -> None:
    rng = np.random.default_rng(0)
    stored = Image.fromarray(rng.integers(0, 256, (1500, 700, 3), dtype=np.uint8))  # several strips of rows
    for image in (stored, stored.convert("L")):
        for orientation in range(1, 9):
            exif = Image.Exif()
            exif[0x0112] = orientation
            png = encode(image, "PNG", exif=exif.tobytes())
            expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(png))).convert("RGB"))
            decoded = decode_image(png, LIMIT).pixels
            assert decoded.flags.c_contiguous
            assert np.array_equal(decoded, expected), (image.mode, orientation)


def test_limits_and_bad_data() -> None:
    with pytest.raises(ImageTooLarge):
        decode_image(encode(Image.new("RGB", (200, 100)), "PNG"), 19_999)
    with pytest.raises(UnsupportedMediaType):
        decode_image(encode(Image.new("RGB", (10, 10)), "BMP"), LIMIT)
    for data in (b"", b"GIF89a garbage", encode(Image.new("RGB", (64, 64)), "JPEG")[:-300]):
        with pytest.raises((InvalidImage, UnsupportedMediaType)):
            decode_image(data, LIMIT)


def test_face_crop_is_a_small_jpeg_with_margin() -> None:
    pixels = np.zeros((1000, 1000, 3), np.uint8)
    crop = Image.open(io.BytesIO(face_crop_jpeg(Frame.of(pixels), [400, 400, 700, 700])))
    assert crop.format == "JPEG"
    assert crop.size == (240, 240)  # 480 px with its margin, halved (a whole factor): at most 336
    edge = Image.open(io.BytesIO(face_crop_jpeg(Frame.of(pixels[:50, :50]), [-10, -10, 40, 30])))
    assert edge.size[0] <= 50
