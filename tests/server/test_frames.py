"""Frames: the detector's reduced copy maps back to the frame, whatever the frame's size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hailo_face_server.frames import Frame


@pytest.mark.parametrize(("width", "height", "scale"), [(1921, 1238, 1 / 3), (4000, 3000, 0.08), (640, 480, 0.8)])
@pytest.mark.parametrize("from_image", [False, True])
@pytest.mark.parametrize("centre_samples", [False, True])
def test_points_of_the_scaled_copy_map_back_to_the_frame(
    width: int, height: int, scale: float, from_image: bool, centre_samples: bool
) -> None:
    pixels = np.zeros((height, width, 3), np.uint8)
    spots = [(width - 30, height - 25), (40, 35), (width // 2, height // 3)]
    for x, y in spots:
        pixels[y - 12 : y + 12, x - 12 : x + 12] = 255
    frame = Frame(_image=Image.fromarray(pixels)) if from_image else Frame.of(pixels)
    scaled = frame.scaled(scale, centre_samples=centre_samples)
    assert scaled.pixels.shape[:2] == (round(height * scale), round(width * scale))
    brightness = scaled.pixels[..., 0].astype(float)
    for x, y in spots:
        # The spot's centre of brightness in the scaled copy, mapped back.
        sx, sy = x / scaled.to_frame[0], y / scaled.to_frame[1]
        top, left = max(0, int(sy) - 6), max(0, int(sx) - 6)
        window = brightness[top : int(sy) + 7, left : int(sx) + 7]
        ys, xs = np.mgrid[top : top + window.shape[0], left : left + window.shape[1]]
        centre = ((xs * window).sum() / window.sum() + 0.5, (ys * window).sum() / window.sum() + 0.5)
        back = (centre[0] * scaled.to_frame[0], centre[1] * scaled.to_frame[1])
        # Within a third of a scaled pixel (the centroid's own accuracy), not a block's drift.
        assert abs(back[0] - x) <= 0.35 * scaled.to_frame[0] + 0.5, (back, x)
        assert abs(back[1] - y) <= 0.35 * scaled.to_frame[1] + 0.5, (back, y)


def test_a_frame_needs_rgb_pixels() -> None:
    with pytest.raises(ValueError, match="H x W x 3"):
        Frame.of(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        Frame(_image=Image.new("L", (4, 4)))


def test_centre_samples_are_opencvs_bilinear_shrink_by_an_odd_factor() -> None:
    """A 1080p frame to 640 x 360: OpenCV's INTER_LINEAR samples (3x + 1, 3y + 1), between no pixels."""
    pixels = np.random.default_rng(3).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    frame = Frame(_image=Image.fromarray(pixels))
    sampled = frame.scaled(1 / 3, centre_samples=True)
    np.testing.assert_array_equal(sampled.pixels, pixels[1::3, 1::3])
    assert sampled.to_frame == (3.0, 3.0)
    # The mean of each block otherwise, and both are kept apart.
    averaged = frame.scaled(1 / 3)
    expected = pixels.reshape(360, 3, 640, 3, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(averaged.pixels - expected).max() <= 1
    assert frame.scaled(1 / 3, centre_samples=True) is sampled


@pytest.mark.parametrize(("width", "height", "scale"), [(1280, 720, 0.5), (1000, 700, 0.8), (3840, 2160, 1 / 6)])
def test_centre_samples_average_where_the_factor_is_not_an_odd_whole_one(width: int, height: int, scale: float) -> None:
    """OpenCV's bilinear shrink by 2 is the mean of each 2 x 2 block; elsewhere the mean is the safer filter."""
    pixels = np.random.default_rng(4).integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame = Frame(_image=Image.fromarray(pixels))
    np.testing.assert_array_equal(frame.scaled(scale, centre_samples=True).pixels, frame.scaled(scale).pixels)


@pytest.mark.parametrize(
    ("width", "height", "scale", "exact"),
    [
        (3840, 2160, 0.8, True),
        (1920, 1080, 0.8, True),
        (3840, 2160, 0.4, True),  # reduced by 2, then resized by 0.8
        (1280, 720, 0.5, True),
        (640, 480, 1.0, True),
        (1001, 701, 0.37, False),  # a step of 501 / 370
    ],
)
@pytest.mark.parametrize("from_image", [False, True])
def test_a_part_of_the_scaled_frame_is_made_alone_with_the_same_pixels(
    width: int, height: int, scale: float, exact: bool, from_image: bool
) -> None:
    """A detector's tile is cut from the frame without the whole scaled copy: that copy's pixels.

    Exactly where the resize's step is exact in binary (4K to 0.8: 1.25); elsewhere Pillow's weights for
    a box of the source are computed from a step rounded differently, and a few values differ by one.
    """
    pixels = np.random.default_rng(5).integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame = Frame(_image=Image.fromarray(pixels)) if from_image else Frame.of(pixels)
    whole = Frame(_image=Image.fromarray(pixels)).scaled(scale)
    scaled_height, scaled_width = whole.pixels.shape[:2]
    assert frame.scaled_size(scale) == (scaled_width, scaled_height)
    assert frame.scaled_to_frame(scale) == whole.to_frame
    parts = [
        (0, 0, min(64, scaled_width), min(32, scaled_height)),
        (scaled_width // 3, scaled_height // 4, scaled_width // 3 + 97, scaled_height // 4 + 61),
        (scaled_width - 50, scaled_height - 45, scaled_width, scaled_height),
        (0, 0, scaled_width, scaled_height),
    ]
    for left, top, right, bottom in parts:
        part = frame.scaled_part(scale, (left, top, right, bottom))
        expected = whole.pixels[top:bottom, left:right]
        assert part.pixels.shape == expected.shape
        difference = np.abs(part.pixels.astype(int) - expected)
        if exact:
            np.testing.assert_array_equal(part.pixels, expected, err_msg=str((left, top)))
        assert difference.max() <= 1, (left, top)
        assert np.count_nonzero(difference) <= 0.005 * difference.size, (left, top)
        assert part.to_frame == whole.to_frame
    with pytest.raises(ValueError, match="not inside"):
        frame.scaled_part(scale, (0, 0, scaled_width + 1, 10))
