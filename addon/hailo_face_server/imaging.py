"""Image decoding with limits, and the small JPEG crops kept in the gallery.

Decoding is bounded before it starts: in pixels (from the header), in JPEG
scans (a progressive JPEG can repeat a scan over the whole image thousands of
times in a few hundred bytes), and in memory (a process-wide byte budget
reserved for the peak the decode will reach; see decode_budget.py).
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from hailo_face_server.decode_budget import MIB, DecodeBudget, release_freed_memory
from hailo_face_server.errors import ImageTooLarge, InvalidImage, UnsupportedMediaType
from hailo_face_server.frames import Frame

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ACCEPTED_CONTENT_TYPES = frozenset(ACCEPTED_FORMATS.values())
# Pillow calls a JPEG with a Multi-Picture (MPF) segment "MPO": phones write them
# (depth maps, Ultra HDR gain maps). The first picture is the photo.
FORMAT_ALIASES = {"MPO": "JPEG"}

CROP_MARGIN = 0.3
# A crop's longer side is at most this: large enough to embed again with another model. A larger
# region is reduced by a whole factor (Pillow's reduce, a box filter: ~0.1 ms) rather than resampled
# to an exact size (a bilinear resize of a 300 px face took 0.8 ms, most of keeping a sighting).
CROP_MAX_SIDE = 336
CROP_JPEG_QUALITY = 90

# Pillow's progressive JPEGs have 10 scans (6 in grey); libjpeg's djpeg offers -maxscans for the same reason.
DEFAULT_MAX_JPEG_SCANS = 100
# Every scan passes over the whole image: scans x pixels bounds the work (about 1.5 ns each on a
# 2-core x86_64, so ~1.5 s). 25 scans at 40 megapixels, 100 at 10 megapixels.
DEFAULT_MAX_JPEG_SCAN_PIXELS = 1_000_000_000
# Markers outside the compressed data; real JPEGs have tens. Bounds the time spent counting scans.
MAX_JPEG_SEGMENTS = 10_000

DEFAULT_DECODE_BUDGET_BYTES = 1024 * MIB
DEFAULT_BUDGET_WAIT = 10.0  # seconds a decode waits for others to free the budget
DEFAULT_BUDGET = DecodeBudget(DEFAULT_DECODE_BUDGET_BYTES)
# After a decode this large, hand freed memory back to the system. Not after a 1080p camera frame
# (about 35 MB): trimming costs milliseconds, and the next frame's pages would fault in again.
RELEASE_AFTER_BYTES = 64 * MIB

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError)

# Bytes per pixel Pillow stores for a mode: 1 for these, 2 for 16-bit grey, 4 for every other (RGB included).
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_STRIP_BYTES = 4 * MIB  # converted to RGB a strip of rows at a time
_STRIP_COPIES = 4  # a strip is cropped, converted, exported to numpy, copied into place
_DECODE_SLACK = 2 * MIB  # decoder state, row buffers, the Python objects
# Pillow decodes WebP through libwebp's animation decoder: its canvas and the previous frame's,
# kept until the image is closed, and the frame's bytes while Pillow copies them; 4 bytes a pixel each.
_WEBP_KEPT_BYTES = 8
_WEBP_DECODING_BYTES = 4

# Inside a JPEG's compressed data 0xFF is followed by 0x00 (a stuffed byte), by 0xD0-0xD7 (a restart
# marker) or by more 0xFF (fill): anything else is the marker that ends the scan.
_END_OF_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_SOS, _EOI = 0xDA, 0xD9
_STANDALONE_MARKERS = frozenset([0x00, 0x01, 0xD8, *range(0xD0, 0xD8)])


@dataclass(frozen=True)
class DecodedImage:
    frame: Frame  # upright 8-bit RGB
    format: str

    @property
    def pixels(self) -> np.ndarray:
        """H x W x 3, uint8, RGB, C-contiguous (converted on first use)."""
        return self.frame.pixels

    @property
    def width(self) -> int:
        return self.frame.width

    @property
    def height(self) -> int:
        return self.frame.height


def decode_image(
    data: bytes,
    max_pixels: int,
    *,
    budget: DecodeBudget | None = None,
    budget_wait: float | None = DEFAULT_BUDGET_WAIT,
    max_jpeg_scans: int = DEFAULT_MAX_JPEG_SCANS,
    max_jpeg_scan_pixels: int = DEFAULT_MAX_JPEG_SCAN_PIXELS,
) -> DecodedImage:
    """Decode JPEG, PNG or WebP bytes into 8-bit RGB pixels, upright per EXIF.

    Before decoding: the pixels are checked against ``max_pixels``, a JPEG's scans against
    ``max_jpeg_scans`` and ``max_jpeg_scan_pixels`` (scans x pixels), and the bytes the decode
    will hold at its peak are reserved from ``budget`` (``DEFAULT_BUDGET`` if None), waiting
    up to ``budget_wait`` seconds for other decodes to finish.
    """
    if not data:
        raise InvalidImage("The image is empty.")
    budget = DEFAULT_BUDGET if budget is None else budget
    reserved = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                image_format = FORMAT_ALIASES.get(opened.format or "", opened.format or "")
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
                scans = 0
                if image_format == "JPEG":
                    scans = check_jpeg_scans(data, width, height, max_jpeg_scans, max_jpeg_scan_pixels)
                reserved = decode_peak_bytes(opened, image_format, scans)
                with budget.reserve(reserved, budget_wait):
                    opened.load()
                    if scans > 1 and reserved >= RELEASE_AFTER_BYTES:
                        release_freed_memory()  # the decoder's buffers (a progressive JPEG's coefficients)
                    frame = _frame_of(opened, image_format)
    except UnidentifiedImageError as err:
        raise InvalidImage("The data is not a JPEG, PNG or WebP image.") from err
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(
            f"The image claims far more pixels than the limit of {max_pixels / 1e6:g} megapixels."
        ) from err
    except _DECODE_ERRORS as err:
        raise InvalidImage("The image is corrupt or truncated and cannot be decoded.") from err
    finally:
        if reserved >= RELEASE_AFTER_BYTES:
            release_freed_memory()
    return DecodedImage(frame=frame, format=image_format)


def _frame_of(opened: Image.Image, image_format: str) -> Frame:
    """The loaded image as a frame: an upright RGB JPEG (a camera's) as decoded, any other converted.

    Only a JPEG is kept as Pillow decoded it: Pillow's WebP image also holds the
    decoder's canvases (8 bytes a pixel more) until it is collected.
    """
    orientation = opened.getexif().get(_ORIENTATION_TAG, 1)
    if image_format == "JPEG" and opened.mode == "RGB" and orientation == 1:
        return Frame(_image=opened)  # the pipeline takes what it needs from it, nothing converted ahead
    frame = Frame.of(rgb8_pixels(opened, orientation))
    opened.close()  # free the decoded image before the next decode may reserve its bytes
    return frame


def check_jpeg_scans(data: bytes, width: int, height: int, max_scans: int, max_scan_pixels: int) -> int:
    """The number of scans in the JPEG's first picture; ``InvalidImage`` if decoding them would take too long."""
    allowed = max(1, min(max_scans, max_scan_pixels // (width * height)))
    scans = count_jpeg_scans(data, stop_after=allowed)
    if scans > allowed:
        raise InvalidImage(
            f"The JPEG has more than {allowed} scans (passes over the image): too many to decode in "
            f"reasonable time at {width}x{height} pixels. Save it again as an ordinary JPEG and resend it.",
            max_scans=allowed,
        )
    return scans


def count_jpeg_scans(data: bytes, stop_after: int | None = None) -> int:
    """The scans (SOS segments) of the first picture in JPEG ``data``, up to its end (EOI).

    Walks the markers as libjpeg reads them: segments by their length, compressed
    data up to the next marker; pictures after the first (MPO) and JPEGs inside
    segments (EXIF thumbnails) are not counted. Stops counting after ``stop_after``.
    """
    scans = 0
    segments = 0
    end = len(data)
    position = 2  # after SOI
    while True:
        position = data.find(b"\xff", position)
        while 0 <= position < end - 1 and data[position + 1] == 0xFF:
            position += 1  # fill bytes
        if position < 0 or position >= end - 1:
            return scans
        marker = data[position + 1]
        position += 2
        if marker == _EOI:
            return scans
        if marker in _STANDALONE_MARKERS:
            continue
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise InvalidImage(f"The JPEG has more than {MAX_JPEG_SEGMENTS} segments; it is not a photograph.")
        position += int.from_bytes(data[position : position + 2], "big")
        if marker == _SOS:
            scans += 1
            if stop_after is not None and scans > stop_after:
                return scans
            found = _END_OF_SCAN.search(data, position)
            if found is None:
                return scans
            position = found.start()


def decode_peak_bytes(opened: Image.Image, image_format: str, scans: int = 0) -> int:
    """The most memory decoding ``opened`` (not yet loaded) into RGB pixels will hold at once, in bytes.

    Pillow's image (1, 2 or 4 bytes a pixel by mode; 16-bit RGB(A) PNGs are stored as 8-bit),
    with the decoder's own buffers, then with the 3-byte RGB result being filled a strip at a time.
    Measured within 0.75-1.0 of the peak resident memory (tests/server/test_decode_hardening.py).
    """
    width, height = opened.size
    pixels = width * height
    stored = _STORED_BYTES.get(opened.mode, 4) * pixels
    decoding = 0  # freed when the decoder finishes
    kept = 0  # kept until the image is closed
    if image_format == "JPEG" and scans > 1:
        # A JPEG in several scans (progressive) is decoded from all its coefficients, kept at once:
        # 64 two-byte coefficients per 8x8 block of each component (less for subsampled colour).
        decoding = int(2 * _jpeg_component_planes(opened) * (width + 16) * (height + 16))  # whole blocks
    elif image_format == "WEBP":
        kept = _WEBP_KEPT_BYTES * pixels
        decoding = _WEBP_DECODING_BYTES * pixels
    strip = min(pixels, _strip_rows(width) * width) * 4 * _STRIP_COPIES
    return stored + kept + max(decoding, 3 * pixels + strip) + _DECODE_SLACK


def _jpeg_component_planes(opened: Image.Image) -> float:
    """The JPEG's components in full-size planes: 3 for colour at full resolution, 1.5 with 4:2:0 subsampling."""
    components = getattr(opened, "layer", None)  # Pillow's (id, h, v, table) per component, from the SOF
    if not components:
        return float(getattr(opened, "layers", 0) or 4)
    most_h = max(max(1, c[1]) for c in components)
    most_v = max(max(1, c[2]) for c in components)
    return float(sum(max(1, c[1]) / most_h * max(1, c[2]) / most_v for c in components))


def _strip_rows(width: int) -> int:
    return max(1, _STRIP_BYTES // (4 * width))


_ORIENTATION_TAG = 0x0112


# EXIF orientation: how to turn a stored strip of rows upright, and whether it lands as columns of the
# result (turned a quarter) and from its far end (the strip's first row is the result's last row or column).
_TURNS: dict[object, tuple[Image.Transpose, bool, bool]] = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT, False, False),
    3: (Image.Transpose.ROTATE_180, False, True),
    4: (Image.Transpose.FLIP_TOP_BOTTOM, False, True),
    5: (Image.Transpose.TRANSPOSE, True, False),
    6: (Image.Transpose.ROTATE_270, True, True),
    7: (Image.Transpose.TRANSVERSE, True, True),
    8: (Image.Transpose.ROTATE_90, True, False),
}


def rgb8_pixels(image: Image.Image, orientation: object = 1) -> np.ndarray:
    """A loaded image as H x W x 3 8-bit RGB, turned upright for an EXIF ``orientation`` (1-8) as exif_transpose does.

    Converted a strip of rows at a time into the result, so no whole-image copy
    exists besides the image and the result. 16-bit grey is scaled to 8 bits.
    """
    width, height = image.size
    turn = _TURNS.get(orientation) if isinstance(orientation, int) else None
    columns = turn is not None and turn[1]
    upright = np.empty((width, height, 3) if columns else (height, width, 3), np.uint8)
    rows = _strip_rows(width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = image.crop((0, top, width, bottom))
        if turn is None:
            upright[top:bottom] = _rgb8(strip)
            continue
        method, as_columns, from_end = turn
        first, last = (height - bottom, height - top) if from_end else (top, bottom)
        target = upright[:, first:last] if as_columns else upright[first:last]
        target[...] = _rgb8(strip.transpose(method))
    return upright


def _rgb8(strip: Image.Image) -> np.ndarray:
    """Rows of any Pillow mode as 8-bit RGB: H x W x 3, or H x W x 1 for grey (broadcast by the caller)."""
    mode = strip.mode
    if mode == "RGB":
        return np.asarray(strip)
    if mode == "L":
        return np.asarray(strip)[:, :, None]
    if mode.startswith("I;16"):  # 16-bit grey (PNG); Pillow's own conversion clips it to white
        return (np.asarray(strip) >> 8).astype(np.uint8)[:, :, None]
    if mode == "I":  # 32-bit integers: 16-bit grey in older Pillow
        return (np.clip(np.asarray(strip), 0, 0xFFFF) >> 8).astype(np.uint8)[:, :, None]
    if mode == "F":  # as Pillow converts it: 0-255, clipped
        rounded: np.ndarray = np.clip(np.rint(np.asarray(strip)), 0, 255)
        return rounded.astype(np.uint8)[:, :, None]
    return np.asarray(strip.convert("RGB"))  # 1, P (with transparency), LA, RGBA, CMYK, YCbCr, ...


def face_crop_jpeg(frame: Frame, bbox: Sequence[float]) -> bytes:
    """A small JPEG of the face box with some margin, for people to look at (cut from full resolution)."""
    x1, y1, x2, y2 = bbox
    margin_x = (x2 - x1) * CROP_MARGIN
    margin_y = (y2 - y1) * CROP_MARGIN
    crop, _ = frame.region_image((x1 - margin_x, y1 - margin_y, x2 + margin_x, y2 + margin_y))
    if crop.width == 0 or crop.height == 0:
        crop = frame.image.copy()
    factor = math.ceil(max(crop.size) / CROP_MAX_SIDE)
    if factor > 1:
        crop = crop.reduce(factor)
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=CROP_JPEG_QUALITY)
    return out.getvalue()
