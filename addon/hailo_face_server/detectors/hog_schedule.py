"""Where and at which scale the HOG detector scans an image, so that two cores share one image.

dlib's HOG window is 80 px, so faces of ``min_face_size`` need the image
scaled by ``80 / min_face_size``; that scan dominates a request.  It is split:

- **fine** scans at that scale over horizontal strips, one per core, each
  overlapping the next by more than a face of up to twice the minimum; they
  keep only faces below twice the minimum, and none touching a cut (that
  face lies whole in the neighbouring strip); they scan the grey image,
  which costs a quarter less than colour (dlib takes the strongest of the
  three channels' gradients) and scores the small faces of the test
  photographs within 0.2 of it;
- a **coarse** scan at half that scale over the whole image keeps the faces
  of twice the minimum and more (a quarter of the work);
- a **large** scan of a small copy with a border finds faces that fill the
  frame (tight crops), whose window would leave the image.

The scans run at once on separate detectors (dlib releases the GIL while it
scans).  On one core, or for a small image, it is one fine scan of the whole
image, as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HOG_WINDOW = 80
# Past this many pixels scanned the scale is capped (1080p frames still get
# 40-pixel faces; a 4K frame about 80-pixel ones).
MAX_DETECTION_PIXELS = 8_500_000
LARGE_FACE_SIDE = 200
LARGE_FACE_PADDING = 0.2
# Strips are worth it only when the fine scan is big.
MIN_SPLIT_PIXELS = 600_000
# Faces from twice the minimum are the coarse scan's; both scans keep a band
# around that size, and non-maximum suppression merges what both found.
SPLIT_FACE_FACTOR = 2.0
BAND = 1.15


@dataclass(frozen=True)
class Scan:
    """One HOG scan: rows top..bottom of the image at ``scale``, keeping faces of a size range."""

    scale: float
    top: int
    bottom: int
    min_side: float  # in image pixels
    max_side: float
    padding: float = 0.0
    cut_above: bool = False  # the strip starts inside the image: drop faces touching its top
    cut_below: bool = False
    grey: bool = False  # scan the luminance only


def _first_strip_rows(height: int, workers: int, overlap: int) -> float:
    coarse_rows = height / 4
    return (height + (workers - 1) * overlap + coarse_rows) / workers - coarse_rows


def _strips(height: int, workers: int, overlap: int, *, scale: float, smallest: float, largest: float) -> list[Scan]:
    """Strips whose work, with the coarse scan's quarter on the first worker, is even across workers."""
    first = _first_strip_rows(height, workers, overlap)
    lengths = [first] + [first + height / 4] * (workers - 1)
    strips = []
    top = 0.0
    for k, length in enumerate(lengths):
        bottom = height if k == workers - 1 else min(height, top + length)
        strip_top = max(0, round(top))
        strips.append(
            Scan(
                scale,
                strip_top,
                round(bottom),
                smallest,
                largest,
                cut_above=strip_top > 0,
                cut_below=bottom < height,
                grey=True,
            )
        )
        top = bottom - overlap
    # The larger strips first: the pool's first free thread takes the next scan in order.
    return sorted(strips, key=lambda strip: strip.top - strip.bottom)


def plan(width: int, height: int, min_face_size: int, workers: int) -> list[Scan]:
    """The scans for one image, in the order to start them (the coarse one first)."""
    scale = min(HOG_WINDOW / min_face_size, math.sqrt(MAX_DETECTION_PIXELS / (width * height)))
    smallest = 0.9 * min_face_size
    scans: list[Scan] = []
    fine_pixels = width * height * scale * scale
    split = SPLIT_FACE_FACTOR * max(min_face_size, HOG_WINDOW / scale)
    overlap = math.ceil(split * BAND * 1.2)
    # Fewer strips when the image is too short for each to be well over the overlap.
    while workers > 1 and _first_strip_rows(height, workers, overlap) < 1.2 * overlap:
        workers -= 1
    if workers > 1 and fine_pixels >= MIN_SPLIT_PIXELS:
        scans.append(Scan(scale / 2, 0, height, split / BAND, math.inf))
        scans += _strips(height, workers, overlap, scale=scale, smallest=smallest, largest=split * BAND)
    else:
        scans.append(Scan(scale, 0, height, smallest, math.inf))
    large_scale = LARGE_FACE_SIDE / max(width, height)
    if large_scale < scale / 2 or (len(scans) == 1 and large_scale < scale):
        scans.append(Scan(large_scale, 0, height, smallest, math.inf, padding=LARGE_FACE_PADDING))
    return scans
