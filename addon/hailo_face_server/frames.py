"""One decoded image as the pipeline uses it: a reduced copy for the detector, face regions at full resolution.

A camera frame is decoded once. The detector looks at a copy no larger than
it needs (a box-filter reduction by a whole factor, then a small resize),
made straight from the decoded image; face chips and crops are cut from the
full-resolution image. Full-resolution numpy pixels are made only for a part
that needs the whole image (dlib's HOG detector), once.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from PIL import Image

# Pillow samples a transform at pixel centres (x + 0.5); the pipeline puts pixel centres on integers.
_HALF = 0.5
# A chip covering more than this share of the frame is sampled from the whole frame, not a cut-out.
WHOLE_FRAME_SHARE = 0.1


@dataclass(frozen=True)
class Scaled:
    """The frame resized for a detector: multiply its coordinates by ``to_frame`` (x, y) to get the frame's."""

    pixels: np.ndarray  # h x w x 3 uint8 RGB
    to_frame: tuple[float, float]


@dataclass(eq=False)
class Frame:
    """An upright 8-bit RGB image, held as a Pillow image, as numpy pixels, or both (each made once)."""

    _image: Image.Image | None = None
    _pixels: np.ndarray | None = None
    _scaled: dict[tuple[tuple[int, int], bool], Scaled] = field(default_factory=dict)
    # Reductions kept for scaled_part, which threads may call at once for the parts of one scale.
    _reductions: dict[int, Image.Image] = field(default_factory=dict)
    _reducing: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self._image is None and self._pixels is None:
            raise ValueError("a frame needs an image or pixels")
        if self._image is not None and self._image.mode != "RGB":
            raise ValueError(f"a frame's image is RGB, not {self._image.mode}")

    @classmethod
    def of(cls, pixels: np.ndarray) -> Frame:
        """A frame of H x W x 3 uint8 RGB pixels."""
        if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
            raise ValueError(f"a frame's pixels are H x W x 3 uint8, not {pixels.shape} {pixels.dtype}")
        return cls(_pixels=pixels)

    @property
    def width(self) -> int:
        return self._image.width if self._image is not None else int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return self._image.height if self._image is not None else int(self.pixels.shape[0])

    @property
    def pixels(self) -> np.ndarray:
        """The whole image as H x W x 3 uint8 RGB (converted on first use)."""
        if self._pixels is None:
            from hailo_face_server.imaging import rgb8_pixels

            assert self._image is not None
            self._pixels = rgb8_pixels(self._image)
        return self._pixels

    @property
    def image(self) -> Image.Image:
        """The whole image as a Pillow RGB image (made from the pixels on first use)."""
        if self._image is None:
            assert self._pixels is not None
            self._image = Image.fromarray(np.ascontiguousarray(self._pixels))
        return self._image

    def scaled(self, scale: float, *, centre_samples: bool = False) -> Scaled:
        """The frame at ``scale``: when smaller, reduced by a whole factor first, then resized to the exact size.

        With ``centre_samples``, a shrink by an odd whole factor keeps the centre pixel of each block
        instead of their mean: exactly what OpenCV's ``resize`` (INTER_LINEAR) gives there, the
        resize SCRFD was trained and evaluated with, and a seventh of the cost.
        """
        size = self.scaled_size(scale)
        key = (size, centre_samples)
        cached = self._scaled.get(key)
        if cached is not None:
            return cached
        factor = self._whole_factor(size)
        if size == (self.width, self.height):
            result = Scaled(self.pixels, (1.0, 1.0))  # converted once, shared with every other use
        elif (
            centre_samples
            and factor % 2 == 1
            and factor > 1
            and max(self.width / size[0], self.height / size[1]) < factor + 0.01
        ):
            sampled = self.image.resize(size, Image.Resampling.NEAREST)
            result = Scaled(np.asarray(sampled), (self.width / size[0], self.height / size[1]))
        else:
            image = self._reduced(factor)
            if image.size != size:
                image = image.resize(size, Image.Resampling.BILINEAR)
            result = Scaled(np.asarray(image), self._to_frame(size))
        self._scaled[key] = result
        return result

    def scaled_size(self, scale: float) -> tuple[int, int]:
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))

    def scaled_to_frame(self, scale: float) -> tuple[float, float]:
        """``scaled(scale).to_frame`` without making the copy: what multiplies its coordinates into the frame's."""
        return self._to_frame(self.scaled_size(scale))

    def _to_frame(self, size: tuple[int, int]) -> tuple[float, float]:
        """For a copy of ``size`` made by a reduction by a whole factor, then a resize (not the centre samples)."""
        factor = self._whole_factor(size)
        # A reduced pixel is the mean of a factor x factor block, the last, partial block's of what
        # is left (Pillow's reduce rounds the size up): positions scale by the factor, then by the
        # resize from the reduction's size to the exact size.
        reduced = (math.ceil(self.width / factor), math.ceil(self.height / factor))
        return factor * reduced[0] / size[0], factor * reduced[1] / size[1]

    def scaled_part(self, scale: float, part: tuple[int, int, int, int]) -> Scaled:
        """The pixels ``part`` (left, top, right, bottom, in the scaled frame's pixels) of ``scaled(scale)``.

        Made from the frame alone, without the whole scaled copy: the same pixels as
        ``scaled(scale).pixels[top:bottom, left:right]`` (Pillow's resize of a box of the source
        reads the source around it as the whole resize does). ``to_frame`` is the whole copy's:
        add the part's corner before multiplying.
        """
        left, top, right, bottom = part
        size = self.scaled_size(scale)
        if not (0 <= left < right <= size[0] and 0 <= top < bottom <= size[1]):
            raise ValueError(f"part {part} is not inside the scaled frame's {size}")
        if size == (self.width, self.height):
            return Scaled(self.region(part)[0], (1.0, 1.0))  # not the whole frame converted to numpy
        image = self._reduced(self._whole_factor(size), keep=True)
        if image.size == size:
            pixels = np.asarray(image.crop(part))
        else:
            step_x, step_y = image.width / size[0], image.height / size[1]
            box = (left * step_x, top * step_y, right * step_x, bottom * step_y)
            pixels = np.asarray(image.resize((right - left, bottom - top), Image.Resampling.BILINEAR, box=box))
        return Scaled(pixels, self._to_frame(size))

    def _whole_factor(self, size: tuple[int, int]) -> int:
        # A whole factor within rounding of the size (1238 rows to 413 is a factor of 3, not 2).
        return max(1, math.floor(min(self.width / size[0], self.height / size[1]) + 0.01))

    def _reduced(self, factor: int, *, keep: bool = False) -> Image.Image:
        """The image reduced by ``factor`` (a box filter; the image itself for 1).

        ``keep``: made once and kept with the frame (for the parts of one scale), else made for the caller.
        """
        if factor == 1:
            return self.image
        if not keep:
            return self.image.reduce(factor)
        with self._reducing:
            reduced = self._reductions.get(factor)
            if reduced is None:
                reduced = self._reductions[factor] = self.image.reduce(factor)
        return reduced

    def region(self, box: np.ndarray | tuple[float, float, float, float]) -> tuple[np.ndarray, tuple[int, int]]:
        """The pixels inside ``box`` (x1, y1, x2, y2; clipped to the frame) and the region's top-left corner."""
        left, top, right, bottom = self._clip(box)
        if self._pixels is not None:
            return self._pixels[top:bottom, left:right], (left, top)
        assert self._image is not None
        return np.asarray(self._image.crop((left, top, right, bottom))), (left, top)

    def region_image(self, box: np.ndarray | tuple[float, float, float, float]) -> tuple[Image.Image, tuple[int, int]]:
        """As ``region``, as a Pillow image."""
        left, top, right, bottom = self._clip(box)
        if self._image is not None:
            return self._image.crop((left, top, right, bottom)), (left, top)
        return Image.fromarray(np.ascontiguousarray(self.pixels[top:bottom, left:right])), (left, top)

    def chip(self, chip_to_frame: np.ndarray, size: int) -> np.ndarray:
        """A size x size chip; chip pixel (x, y) is sampled (bilinear) at frame point M @ (x, y, 1), black outside.

        Sampled from the part of the frame the chip covers: Pillow's transform is faster on a
        small image than on the whole frame (the pixels it reads stay in the cache), unless
        the face fills much of the frame, where cutting the part out would cost more.
        """
        (a, b, c), (d, e, f) = cast("list[list[float]]", np.asarray(chip_to_frame, float).tolist())
        last = size - 1  # the chip's corners (0, 0), (last, 0), (0, last), (last, last) in the frame:
        xs = (c, a * last + c, b * last + c, (a + b) * last + c)
        ys = (f, d * last + f, e * last + f, (d + e) * last + f)
        low, high = (min(xs) - 2, min(ys) - 2), (max(xs) + 3, max(ys) + 3)
        if self._image is not None and (high[0] - low[0]) * (high[1] - low[1]) > (
            WHOLE_FRAME_SHARE * self.width * self.height
        ):
            region, (left, top) = self._image, (0, 0)
        else:
            region, (left, top) = self.region_image((low[0], low[1], high[0], high[1]))
        if region.width == 0 or region.height == 0:
            return np.zeros((size, size, 3), np.uint8)
        # Pillow maps output point p (pixel centre p + 0.5) to input p' and samples at p' - 0.5.
        data = (
            a,
            b,
            c - left + _HALF - _HALF * (a + b),
            d,
            e,
            f - top + _HALF - _HALF * (d + e),
        )
        chip = region.transform((size, size), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR, fillcolor=0)
        return np.asarray(chip)

    def _clip(self, box: np.ndarray | tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        x1, y1, x2, y2 = (float(v) for v in box)
        left = min(max(0, math.floor(x1)), self.width)
        top = min(max(0, math.floor(y1)), self.height)
        right = max(left, min(self.width, math.ceil(x2)))
        bottom = max(top, min(self.height, math.ceil(y2)))
        return left, top, right, bottom
