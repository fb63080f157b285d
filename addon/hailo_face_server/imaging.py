"""Image decoding with limits, and the small JPEG crops kept in the gallery."""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hailo_face_server.errors import ImageTooLarge, InvalidImage, UnsupportedMediaType

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ACCEPTED_CONTENT_TYPES = frozenset(ACCEPTED_FORMATS.values())

CROP_MARGIN = 0.3
CROP_MAX_SIDE = 224  # large enough to embed again with another model
CROP_JPEG_QUALITY = 90

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError)


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # H x W x 3, uint8, RGB, C-contiguous
    format: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def decode_image(data: bytes, max_pixels: int) -> DecodedImage:
    """Decode JPEG, PNG or WebP bytes into RGB pixels, upright per EXIF."""
    if not data:
        raise InvalidImage("The image is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                image_format = opened.format or ""
                if image_format not in ACCEPTED_FORMATS:
                    raise UnsupportedMediaType(
                        f"Images must be JPEG, PNG or WebP; this one is {image_format or 'unknown'}."
                    )
                width, height = opened.size
                if width < 1 or height < 1:
                    raise InvalidImage("The image has no pixels.")
                if width * height > max_pixels:
                    raise ImageTooLarge(
                        f"The image is {width}x{height} pixels; the limit is {max_pixels / 1e6:g} megapixels.",
                        width=width,
                        height=height,
                    )
                upright = ImageOps.exif_transpose(opened) or opened
                rgb = upright.convert("RGB")
    except UnidentifiedImageError as err:
        raise InvalidImage("The data is not a JPEG, PNG or WebP image.") from err
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(
            f"The image claims far more pixels than the limit of {max_pixels / 1e6:g} megapixels."
        ) from err
    except _DECODE_ERRORS as err:
        raise InvalidImage("The image is corrupt or truncated and cannot be decoded.") from err
    pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    return DecodedImage(pixels=pixels, format=image_format)


def face_crop_jpeg(pixels: np.ndarray, bbox: Sequence[float]) -> bytes:
    """A small JPEG of the face box with some margin, for people to look at."""
    height, width = pixels.shape[:2]
    x1, y1, x2, y2 = bbox
    margin_x = (x2 - x1) * CROP_MARGIN
    margin_y = (y2 - y1) * CROP_MARGIN
    left = max(0, int(x1 - margin_x))
    top = max(0, int(y1 - margin_y))
    right = min(width, int(np.ceil(x2 + margin_x)))
    bottom = min(height, int(np.ceil(y2 + margin_y)))
    if right <= left or bottom <= top:
        left, top, right, bottom = 0, 0, width, height
    crop = Image.fromarray(pixels[top:bottom, left:right])
    crop.thumbnail((CROP_MAX_SIDE, CROP_MAX_SIDE), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=CROP_JPEG_QUALITY)
    return out.getvalue()
