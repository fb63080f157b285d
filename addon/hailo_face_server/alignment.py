"""Face alignment: map five landmarks onto a template and cut a square chip.

Pixel centres are at integer coordinates; pixels outside the image are black.
"""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np

# The standard ArcFace 112 x 112 positions of the eye centres, the nose tip and
# the mouth corners (the order of SCRFD's and RetinaFace's five keypoints).
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)
ARCFACE_CHIP_SIZE = 112


class FaceAligner(Protocol):
    chip_size: int

    def align(self, pixels: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Chips (N x S x S x 3 uint8) for the faces with these N x 5 x 2 landmarks."""
        ...


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2 x 3 rotation + uniform scale + translation that best maps source onto target.

    Least squares (Umeyama, 1991), reflections excluded.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    src_mean = src.mean(axis=0)
    dst_mean = dst.mean(axis=0)
    src_centered = src - src_mean
    dst_centered = dst - dst_mean
    covariance = dst_centered.T @ src_centered / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    src_variance = (src_centered**2).sum() / len(src)
    scale = float((singular * sign).sum() / src_variance) if src_variance > 0 else 1.0
    translation = dst_mean - scale * rotation @ src_mean
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = translation
    return matrix


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    mapped: np.ndarray = pts @ matrix[:, :2].T + matrix[:, 2]
    return mapped


@functools.cache
def _chip_grid(size: int) -> np.ndarray:
    """Homogeneous coordinates (x, y, 1) of every chip pixel, row by row: size^2 x 3."""
    grid_y, grid_x = np.mgrid[0:size, 0:size]
    grid: np.ndarray = np.stack([grid_x.ravel(), grid_y.ravel(), np.ones(size * size)], axis=1).astype(np.float32)
    return grid


def warp_affine(pixels: np.ndarray, chip_to_image: np.ndarray, size: int) -> np.ndarray:
    """Sample a size x size chip; chip pixel (x, y) comes from image point M @ (x, y, 1).

    Bilinear, reading only the four image pixels around each chip pixel.
    """
    height, width, channels = pixels.shape
    source = _chip_grid(size) @ chip_to_image.T.astype(np.float32)
    corner = np.floor(source)
    fraction = source - corner
    x0 = corner[:, 0].astype(np.intp)
    y0 = corner[:, 1].astype(np.intp)
    flat = pixels.reshape(-1, channels)

    def sample(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
        index = np.clip(ys, 0, height - 1) * width + np.clip(xs, 0, width - 1)
        values: np.ndarray = flat[index].astype(np.float32) * inside[:, None]
        return values

    fx = fraction[:, :1]
    fy = fraction[:, 1:2]
    top = sample(y0, x0) * (1 - fx) + sample(y0, x0 + 1) * fx
    bottom = sample(y0 + 1, x0) * (1 - fx) + sample(y0 + 1, x0 + 1) * fx
    chip = top * (1 - fy) + bottom * fy
    rounded: np.ndarray = np.clip(np.rint(chip), 0, 255).astype(np.uint8).reshape(size, size, channels)
    return rounded


def invert_transform(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2 x 3 affine transform."""
    square = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse: np.ndarray = np.linalg.inv(square)[:2]
    return inverse


class TemplateAligner:
    """Aligns faces to fixed template positions of the five landmarks.

    As ArcFace was trained (insightface's ``norm_crop``, Hailo's pipelines):
    the least-squares similarity is fitted from the detected landmarks to the
    template, and its inverse samples the chip. The fit the other way round is
    not its inverse: its scale differs by about 1 % (up to 7 %).
    """

    def __init__(self, template: np.ndarray, chip_size: int) -> None:
        self.template = np.asarray(template, dtype=np.float64)
        self.chip_size = chip_size

    def chip_to_image(self, points: np.ndarray) -> np.ndarray:
        return invert_transform(similarity_transform(points, self.template))

    def align(self, pixels: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        chips = np.zeros((len(landmarks), self.chip_size, self.chip_size, 3), dtype=np.uint8)
        for i, points in enumerate(landmarks):
            chips[i] = warp_affine(pixels, self.chip_to_image(points), self.chip_size)
        return chips
