"""Face alignment: map five landmarks onto a template and cut a square chip.

Pixel centres are at integer coordinates; pixels outside the image are black.
Chips are sampled from the full-resolution frame (frames.Frame.chip).
"""

from __future__ import annotations

import numpy as np

from hailo_face_server.frames import Frame

# The standard ArcFace 112 x 112 positions of the eye centres, the nose tip and
# the mouth corners (the order of SCRFD's and RetinaFace's five keypoints).
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)
ARCFACE_CHIP_SIZE = 112


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

    def align(self, frame: Frame, landmarks: np.ndarray) -> np.ndarray:
        chips = np.zeros((len(landmarks), self.chip_size, self.chip_size, 3), dtype=np.uint8)
        for i, points in enumerate(landmarks):
            chips[i] = frame.chip(self.chip_to_image(points), self.chip_size)
        return chips
