"""The HOG scan plan: every face size covered once, strips that overlap by more than a strip's largest face."""

from __future__ import annotations

import itertools
import math

import pytest

from hailo_face_server.detectors.hog_schedule import HOG_WINDOW, plan


@pytest.mark.parametrize(("width", "height"), [(640, 640), (640, 413), (1366, 768), (1920, 1080), (3840, 2160)])
@pytest.mark.parametrize("workers", [2, 3, 4])
def test_strips_cover_the_image_and_overlap_by_more_than_their_largest_face(
    width: int, height: int, workers: int
) -> None:
    scans = plan(width, height, 40, workers)
    coarse, *strips, large = scans
    if not strips:  # too short to split among this many cores
        pytest.skip("one scan")
    assert coarse.scale == pytest.approx(strips[0].scale / 2)
    assert (coarse.top, coarse.bottom, coarse.max_side) == (0, height, math.inf)
    assert 2 <= len(strips) <= workers
    ordered = sorted(strips, key=lambda s: s.top)
    assert ordered[0].top == 0 and ordered[-1].bottom == height
    for upper, lower in itertools.pairwise(ordered):
        assert upper.bottom - lower.top > upper.max_side  # a fine face crossing a cut lies whole in one strip
        assert upper.cut_below and lower.cut_above
    assert all(s.max_side > coarse.min_side for s in strips)  # no size falls between fine and coarse
    assert large.padding > 0
    # Only the small faces' strips scan grey; larger faces keep dlib's colour scan.
    assert all(s.grey for s in strips) and not coarse.grey and not large.grey


def test_small_images_and_one_core_get_a_single_scan() -> None:
    (only, large) = plan(150, 150, 40, 4)
    assert (only.scale, only.top, only.bottom, only.max_side, only.grey) == (2.0, 0, 150, math.inf, False)
    assert large.padding > 0
    (only, _large) = plan(1920, 1080, 40, 1)
    assert only.scale * 40 == pytest.approx(HOG_WINDOW, rel=0.05)


def test_the_scale_is_capped_for_huge_frames() -> None:
    fine = plan(3840, 2160, 40, 2)[1]
    assert 3840 * 2160 * fine.scale**2 <= 8_500_000 * 1.001
