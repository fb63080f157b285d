"""How useful a seen face is: its size, sharpness and frontalness, and one score that combines them.

The score ranks a camera's sightings (which to keep, which to show for review,
which may teach a person) and runs on every stored face, so it is cheap: the
box's size, one Laplacian over a small fixed-size grey copy of the face, and
five landmarks. It reads no model.

- size: the shorter side of the detection box, scored 0 at ``SMALLEST_FACE``
  px and 1 from ``FULL_FACE`` px on, on a log scale in between (each halving
  of the resolution costs the same: 0.26 at 33 px, 0.64 at 52). Below about 24 px the
  embedder's chip (150 px for dlib, 112 for ArcFace) is a 5-6 x enlargement
  of the face and recognition is guesswork; from about 80 px the face has most
  of the detail the chip can hold (dlib's chip shows the face at about 100 px).
- sharpness: the variance of the 4-neighbour Laplacian of the face's inside
  (the box less ``SHARPNESS_INSET`` of it on each side: the head's outline
  against the background says nothing of the face's own detail, and a sharp
  edge there passed a strongly blurred face as sharp) in grey, resampled to
  ``SHARPNESS_SIDE`` px square. The fixed size makes the number a property of
  the face rather than of how many pixels it covers: a sharp 130 px face and a
  sharp 500 px face measure alike (a small face's lack of detail is the size
  score's job). It is in grey levels, not normalised by the region's contrast:
  a dim face does give the embedder less detail, and normalising would reward
  sensor noise (measured on the portraits made dark and noisy, as a camera at
  dusk: normalised, they measured sharper than the clean originals). Mapped to
  0..1 by 1 - exp(-v / ``SHARPNESS_SCALE``).
- frontalness: where the nose is between the eyes, along the eye axis (so a
  rolled head, turned in the image plane, is still frontal): 1 with the nose
  on the eyes' midpoint, 0 with the nose at an eye or beyond (the head turned
  about 45 degrees or more).
- score: the product of the three. Each factor is the share of a good face's
  use left after that defect, and defects compound; one very bad factor pulls
  the score down whatever the others are (a mean of three would let a sharp,
  frontal 28 px face pass).

Measured on the 40 real portraits (150 x 150 grey tight crops) pasted in a
1280 x 720 frame, found by YuNet with dlib's five points (faces of about
130 px): sharpness median 0.99 (10th percentile 0.88) for the originals; after
a Gaussian blur of radius 1, 1.5, 2, 3: 0.84, 0.59, 0.37, 0.15; shrunk to
32 px and enlarged again 0.27; dark and noisy 0.71. Frontalness median 0.87
(10th percentile 0.63: some portraits are turned), unchanged by a 20-degree
roll. ``GOOD_QUALITY`` 0.5 passes 97 % of the originals (the rest are turned
heads) and all of them at 100 px, 88 % at blur radius 1, 50 % at 1.5, 3 % at
2, none at 3, none shrunk and enlarged, none at 28-34 px, 46 % at 52 px. It
is stricter than dlib's descriptor needs (a blur of radius 1.5 moves its
embedding by a cosine of 0.01): a good sighting is one clear enough to be
shown for review and to teach a person from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from hailo_face_server.faces import LandmarkScheme
from hailo_face_server.frames import Frame

# Face size (the box's shorter side, px) scored 0, and from which it is scored 1.
SMALLEST_FACE = 24.0
FULL_FACE = 80.0
# The share of the box cut from each side before sharpness is measured: the face's inside is measured,
# not its outline against the background.
SHARPNESS_INSET = 0.15
# The side of the grey square the Laplacian is taken on.
SHARPNESS_SIDE = 64
# The Laplacian variance (grey levels squared) scored 1 - 1/e = 0.63.
SHARPNESS_SCALE = 120.0
# A score from which a sighting is good.
GOOD_QUALITY = 0.5


@dataclass(frozen=True)
class FaceQuality:
    face_size: float  # px: the shorter side of the detection box in the original frame
    sharpness: float  # 0..1
    frontalness: float  # 0..1 (1: looking at the camera)
    score: float  # 0..1, the combination

    @property
    def good(self) -> bool:
        return self.score >= GOOD_QUALITY


def measure_quality(frame: Frame, box: np.ndarray, landmarks: np.ndarray, scheme: LandmarkScheme) -> FaceQuality:
    """The quality of the face in ``box`` (x1, y1, x2, y2, frame pixels) with five ``landmarks`` of ``scheme``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    face_size = max(0.0, min(x2 - x1, y2 - y1))
    # On a log scale: each halving of the resolution costs the same.
    size_score = math.log(max(face_size, SMALLEST_FACE) / SMALLEST_FACE) / math.log(FULL_FACE / SMALLEST_FACE)
    size_score = min(size_score, 1.0)
    inset_x, inset_y = SHARPNESS_INSET * (x2 - x1), SHARPNESS_INSET * (y2 - y1)
    sharpness = _sharpness(frame, (x1 + inset_x, y1 + inset_y, x2 - inset_x, y2 - inset_y))
    frontalness = _frontalness(np.asarray(landmarks, np.float64).reshape(5, 2), scheme)
    return FaceQuality(face_size, sharpness, frontalness, size_score * sharpness * frontalness)


def _sharpness(frame: Frame, box: tuple[float, float, float, float]) -> float:
    region, _ = frame.region_image(box)
    if region.width < 3 or region.height < 3:
        return 0.0
    # reducing_gap: a large face is first reduced by a whole factor (box filter), then resized.
    grey = region.convert("L").resize((SHARPNESS_SIDE, SHARPNESS_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    pixels = np.asarray(grey, np.float32)
    laplacian = 4 * pixels[1:-1, 1:-1] - pixels[:-2, 1:-1] - pixels[2:, 1:-1] - pixels[1:-1, :-2] - pixels[1:-1, 2:]
    return 1.0 - math.exp(-float(laplacian.var()) / SHARPNESS_SCALE)


def _frontalness(landmarks: np.ndarray, scheme: LandmarkScheme) -> float:
    if scheme == LandmarkScheme.DLIB_5:
        # Outer and inner corner of each eye, then the bottom of the nose.
        left_eye, right_eye, nose = landmarks[0:2].mean(axis=0), landmarks[2:4].mean(axis=0), landmarks[4]
    else:
        left_eye, right_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    axis = right_eye - left_eye
    eye_distance = float(np.hypot(axis[0], axis[1]))
    if eye_distance <= 0 or not math.isfinite(eye_distance):
        return 0.0
    # The nose's offset from the eyes' midpoint along the eye axis, in half eye distances.
    offset = float(np.dot(nose - (left_eye + right_eye) / 2, axis)) / (eye_distance * eye_distance / 2)
    return max(0.0, 1.0 - abs(offset))
