"""Face alignment: map five landmarks onto a template and cut a square chip.

Pixel centres are at integer coordinates; pixels outside the image are black.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


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


def warp_affine(pixels: np.ndarray, chip_to_image: np.ndarray, size: int) -> np.ndarray:
    """Sample a size x size chip; chip pixel (x, y) comes from image point M @ (x, y, 1)."""
    height, width = pixels.shape[:2]
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float64)
    src_x = chip_to_image[0, 0] * grid_x + chip_to_image[0, 1] * grid_y + chip_to_image[0, 2]
    src_y = chip_to_image[1, 0] * grid_x + chip_to_image[1, 1] * grid_y + chip_to_image[1, 2]
    x0 = np.floor(src_x).astype(np.intp)
    y0 = np.floor(src_y).astype(np.intp)
    fx = (src_x - x0)[..., None]
    fy = (src_y - y0)[..., None]
    padded = np.zeros((height + 2, width + 2, pixels.shape[2]), dtype=np.float32)
    padded[1:-1, 1:-1] = pixels
    # Indices into the one-pixel black border; anything further out reads the border.
    xa = np.clip(x0 + 1, 0, width + 1)
    xb = np.clip(x0 + 2, 0, width + 1)
    ya = np.clip(y0 + 1, 0, height + 1)
    yb = np.clip(y0 + 2, 0, height + 1)
    top = padded[ya, xa] * (1 - fx) + padded[ya, xb] * fx
    bottom = padded[yb, xa] * (1 - fx) + padded[yb, xb] * fx
    chip = top * (1 - fy) + bottom * fy
    rounded: np.ndarray = np.clip(np.rint(chip), 0, 255).astype(np.uint8)
    return rounded


class TemplateAligner:
    """Aligns faces to fixed template positions of the five landmarks."""

    def __init__(self, template: np.ndarray, chip_size: int) -> None:
        self.template = np.asarray(template, dtype=np.float64)
        self.chip_size = chip_size

    def align(self, pixels: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        chips = np.zeros((len(landmarks), self.chip_size, self.chip_size, 3), dtype=np.uint8)
        for i, points in enumerate(landmarks):
            chip_to_image = similarity_transform(self.template, points)
            chips[i] = warp_affine(pixels, chip_to_image, self.chip_size)
        return chips
