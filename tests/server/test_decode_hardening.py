"""Decoding under attack and odd formats: JPEG scan bombs, memory, 16-bit grey, MPO (phone JPEGs)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hailo_face_server.decode_budget import MIB, DecodeBudget, release_freed_memory
from hailo_face_server.errors import ImageTooLarge, InvalidImage, ServerBusy
from hailo_face_server.imaging import (
    DEFAULT_MAX_JPEG_SCANS,
    MAX_JPEG_SEGMENTS,
    count_jpeg_scans,
    decode_image,
    decode_peak_bytes,
    rgb8_pixels,
)
from tests.support import REPO_ROOT, Faces

LIMIT = 40_000_000


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def photo(faces: Faces, side: int) -> Image.Image:
    """A real photograph scaled to side x side: smooth, so its JPEG scans are small."""
    return Image.open(faces.group("bbt3.jpg")).convert("RGB").resize((side, side), Image.Resampling.BILINEAR)


def scan_bomb(jpeg: bytes, repeats: int) -> bytes:
    """The JPEG with its last scan (SOS up to EOI) repeated: a few bytes each, a pass over the whole image each."""
    last_scan = jpeg.rindex(b"\xff\xda")
    end = jpeg.rindex(b"\xff\xd9")
    return jpeg[:end] + jpeg[last_scan:end] * repeats + jpeg[end:]


def png16(width: int, height: int, colour_type: int, rows: np.ndarray) -> bytes:
    """A 16-bit PNG (Pillow writes none but grey): ``rows`` is height x width x channels of uint16."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    raw = np.zeros((height, 1 + rows[0].size * 2), np.uint8)
    raw[:, 1:] = np.ascontiguousarray(rows, dtype=">u2").reshape(height, -1).view(np.uint8)
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


def large_png16_rgba(side: int) -> bytes:
    """A side x side 16-bit RGBA PNG of a few hundred KB: one random row, then rows equal to the one above."""
    first = np.random.default_rng(1).integers(0, 1 << 16, (side, 4), dtype=np.uint16).astype(">u2").tobytes()
    deflate = zlib.compressobj(1)
    parts = [deflate.compress(b"\x00" + first)]
    same_as_above = b"\x02" + bytes(side * 8)  # filter "Up", no difference
    parts += [deflate.compress(same_as_above) for _ in range(side - 1)]
    parts.append(deflate.flush())

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


# A. JPEG scan bombs


def test_counting_ff_da_is_exact_for_real_progressive_and_baseline_jpegs(faces: Faces) -> None:
    sources = [faces.person(name, 1) for name in ("amy", "penny", "raj")] + [faces.group("bbt1.jpg")]
    for path in sources:
        for mode, progressive_scans in (("RGB", 10), ("L", 6)):
            image = Image.open(path).convert(mode)
            for quality in (50, 95):
                progressive = encode(image, "JPEG", progressive=True, quality=quality)
                assert count_jpeg_scans(progressive) == progressive.count(b"\xff\xda") == progressive_scans
                baseline = encode(image, "JPEG", quality=quality)
                assert count_jpeg_scans(baseline) == baseline.count(b"\xff\xda") == 1


def test_a_scan_bomb_is_refused_quickly_and_a_normal_progressive_jpeg_decodes(faces: Faces) -> None:
    flat = Image.new("RGB", (2000, 2000), (120, 130, 140))  # its scans are a few bytes each
    flat.paste(photo(faces, 100), (950, 950))
    bomb = scan_bomb(encode(flat, "JPEG", progressive=True, quality=90), 300)
    assert len(bomb) < 500_000  # cheap to send; decoding it took about a second (1,200 repeats at 36 MP: 60 s)
    start = time.perf_counter()
    with pytest.raises(InvalidImage, match="scans") as refused:
        decode_image(bomb, LIMIT)
    assert time.perf_counter() - start < 5.0  # counting takes milliseconds; decoding it took seconds
    assert refused.value.details["max_scans"] == DEFAULT_MAX_JPEG_SCANS
    jpeg = encode(photo(faces, 2000), "JPEG", progressive=True, quality=90)
    decoded = decode_image(jpeg, LIMIT)
    assert np.array_equal(decoded.pixels, np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")))


def test_scans_times_pixels_is_bounded_too(faces: Faces) -> None:
    jpeg = scan_bomb(encode(photo(faces, 2000), "JPEG", progressive=True), 20)  # 30 scans of 4 megapixels
    assert decode_image(jpeg, LIMIT).pixels.shape == (2000, 2000, 3)
    with pytest.raises(InvalidImage, match="more than 25 scans"):
        decode_image(jpeg, LIMIT, max_jpeg_scan_pixels=100_000_000)
    with pytest.raises(InvalidImage, match="more than 29 scans"):
        decode_image(jpeg, LIMIT, max_jpeg_scans=29)


def test_scans_of_later_pictures_and_in_segments_are_not_counted(faces: Faces) -> None:
    first = photo(faces, 300)
    mpo = encode(first, "MPO", save_all=True, append_images=[first.rotate(90)], progressive=True)
    assert mpo.count(b"\xff\xda") == 11  # the second picture is a baseline JPEG: one scan
    assert count_jpeg_scans(mpo) == 10
    # A segment whose payload holds an SOS marker (as an EXIF thumbnail does) is skipped by its length.
    comment = b"\xff\xfe" + struct.pack(">H", 2 + 8) + b"\xff\xda\x00\x08\xff\xda\x00\x08"
    baseline = encode(first, "JPEG")
    assert count_jpeg_scans(baseline[:2] + comment + baseline[2:]) == 1


def test_a_jpeg_of_endless_empty_segments_is_refused_quickly(faces: Faces) -> None:
    jpeg = encode(photo(faces, 64), "JPEG")
    padded = jpeg[:2] + b"\xff\xfe\x00\x02" * (MAX_JPEG_SEGMENTS + 1) + jpeg[2:]
    start = time.perf_counter()
    with pytest.raises(InvalidImage, match="segments"):
        decode_image(padded, LIMIT)
    assert time.perf_counter() - start < 2.0


# B. Memory


def test_an_image_needing_more_than_the_whole_budget_is_too_large() -> None:
    png = encode(Image.new("RGB", (2000, 2000)), "PNG")
    with pytest.raises(ImageTooLarge, match="memory") as refused:
        decode_image(png, LIMIT, budget=DecodeBudget(16 * MIB))
    assert refused.value.details["decode_bytes"] > 16 * MIB
    assert decode_image(png, LIMIT, budget=DecodeBudget(64 * MIB)).pixels.shape == (2000, 2000, 3)


def test_the_budget_waits_in_turn_and_gives_up_after_its_timeout() -> None:
    budget = DecodeBudget(100)
    with pytest.raises(ImageTooLarge), budget.reserve(101):
        pytest.fail("reserved more than the whole budget")
    order: list[str] = []
    with budget.reserve(80):
        with pytest.raises(ServerBusy) as busy, budget.reserve(30, timeout=0.05):
            pytest.fail("reserved more than the budget")
        assert busy.value.retry_after > 0

        def take(name: str, nbytes: int) -> None:
            with budget.reserve(nbytes, timeout=10):
                order.append(name)

        big = threading.Thread(target=take, args=("big", 90))
        big.start()
        while not budget._waiting:  # the big one is in line first
            time.sleep(0.001)
        small = threading.Thread(target=take, args=("small", 10))
        small.start()
        time.sleep(0.05)
        assert order == []  # the small one would fit, but waits its turn
    big.join(5)
    small.join(5)
    assert order == ["big", "small"]
    assert budget.in_use == 0
    assert budget.peak <= 100


def test_the_result_and_the_estimate_match_pillow_for_a_16_bit_rgba_png() -> None:
    rows = np.random.default_rng(2).integers(0, 1 << 16, (30, 40, 4), dtype=np.uint16)
    data = png16(40, 30, 6, rows)
    decoded = decode_image(data, LIMIT)
    assert np.array_equal(decoded.pixels, (rows[:, :, :3] >> 8).astype(np.uint8))
    with Image.open(io.BytesIO(data)) as opened:
        assert decode_peak_bytes(opened, "PNG") >= 40 * 30 * (4 + 3)


MEASURE = textwrap.dedent(
    """
    import io, json, sys, threading
    from concurrent.futures import ThreadPoolExecutor
    from PIL import Image
    from hailo_face_server.decode_budget import DecodeBudget
    from hailo_face_server.imaging import decode_image, decode_peak_bytes

    def status(key):
        with open("/proc/self/status") as lines:
            return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(key + ":"))

    path, copies, threads, budget_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    data = open(path, "rb").read()
    with Image.open(io.BytesIO(data)) as opened:
        estimate = decode_peak_bytes(opened, opened.format, 10 if opened.format == "JPEG" else 0)
    budget = DecodeBudget(budget_bytes)
    before = status("VmRSS")

    def decode(_):
        pixels = decode_image(data, 10**9, budget=budget, budget_wait=60).pixels
        return pixels.shape, int(pixels[0, :8].sum())

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(decode, range(copies)))
    print(json.dumps({"before": before, "peak": status("VmHWM"), "after": status("VmRSS"), "estimate": estimate,
                      "budget_peak": budget.peak, "results": [list(shape) + [total] for shape, total in results]}))
    """
)


def measure(path: Path, copies: int, threads: int, budget_bytes: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(copies), str(threads), str(budget_bytes)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    measured: dict[str, Any] = json.loads(done.stdout)
    return measured


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
def test_concurrent_large_pngs_stay_within_the_budget_and_memory_is_handed_back(tmp_path: Path) -> None:
    side, copies = 3000, 6  # 9 megapixels, 16-bit RGBA: ~70 MB each at the peak, 27 MB of result
    path = tmp_path / "large.png"
    path.write_bytes(large_png16_rgba(side))
    with Image.open(path) as opened:
        assert (opened.mode, opened.size) == ("RGBA", (side, side))
        one = decode_peak_bytes(opened, "PNG")
    budget = one * 3 // 2  # one decode at a time
    measured = measure(path, copies, copies, budget)
    before, peak, after = (int(measured[key]) for key in ("before", "peak", "after"))
    results = measured["results"]
    assert isinstance(results, list) and len(results) == copies and len({tuple(r) for r in results}) == 1
    assert results[0][:3] == [side, side, 3]
    assert int(measured["budget_peak"]) <= budget
    result_bytes = side * side * 3
    # The budget, and at worst every thread's finished result not yet dropped; without the budget
    # six decodes at once reach about 6 x 7.9 bytes a pixel (425 MB; before these fixes 6 x 13.6).
    assert peak - before <= budget + copies * result_bytes + 16 * MIB, (peak - before) / MIB
    assert after - before <= 48 * MIB, (after - before) / MIB  # handed back


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
@pytest.mark.parametrize("kind", ["png16", "jpeg-progressive-444", "webp"])
def test_the_estimate_covers_the_measured_peak(faces: Faces, tmp_path: Path, kind: str) -> None:
    side = 2500
    path = tmp_path / "image"
    if kind == "png16":
        path.write_bytes(large_png16_rgba(side))
    elif kind == "webp":
        photo(faces, side).save(path, "WEBP", quality=80)
    else:
        photo(faces, side).save(path, "JPEG", progressive=True, subsampling=0, quality=90)
    measured = measure(path, 1, 1, 1 << 40)
    peak = int(measured["peak"]) - int(measured["before"])
    estimate = int(measured["estimate"])
    assert 0.5 * estimate <= peak <= estimate + 4 * MIB, (peak / MIB, estimate / MIB)


def test_releasing_freed_memory_is_harmless() -> None:
    assert release_freed_memory() in (True, False)


# C. 16-bit grey and the other modes Pillow decodes to


def test_16_bit_grey_decodes_like_its_8_bit_version(faces: Faces) -> None:
    grey8 = np.asarray(Image.open(faces.person("penny", 2)).convert("L"))
    low_bits = np.random.default_rng(3).integers(0, 256, grey8.shape, dtype=np.uint16)
    grey16 = grey8.astype(np.uint16) * 256 + low_bits
    png = encode(Image.fromarray(grey16), "PNG")
    assert Image.open(io.BytesIO(png)).mode in ("I;16", "I")
    decoded16 = decode_image(png, LIMIT).pixels.astype(int)
    decoded8 = decode_image(encode(Image.fromarray(grey8), "PNG"), LIMIT).pixels.astype(int)
    assert decoded16.min() < 100  # not white
    assert np.abs(decoded16 - decoded8).max() <= 1
    scaled_up = encode(Image.fromarray(grey8.astype(np.uint16) * 257), "PNG")  # how converters widen 8 bits
    assert np.abs(decode_image(scaled_up, LIMIT).pixels.astype(int) - decoded8).max() <= 1


def test_16_bit_grey_with_alpha_and_16_bit_colour_keep_their_high_byte() -> None:
    rng = np.random.default_rng(4)
    grey_alpha = rng.integers(0, 1 << 16, (5, 7, 2), dtype=np.uint16)
    colour = rng.integers(0, 1 << 16, (5, 7, 3), dtype=np.uint16)
    decoded = decode_image(png16(7, 5, 4, grey_alpha), LIMIT).pixels
    assert np.array_equal(decoded, np.repeat((grey_alpha[:, :, :1] >> 8).astype(np.uint8), 3, axis=2))
    decoded = decode_image(png16(7, 5, 2, colour), LIMIT).pixels
    assert np.array_equal(decoded, (colour >> 8).astype(np.uint8))


def test_every_mode_becomes_8_bit_rgb() -> None:
    grey8 = np.arange(0, 256, dtype=np.uint8).reshape(16, 16)
    wide = grey8.astype(np.uint16) * 257
    expected_grey = np.repeat(grey8[:, :, None], 3, axis=2)
    for mode in ("I;16", "I;16B", "I;16L"):
        image = Image.frombytes(mode, (16, 16), wide.astype(">u2" if mode == "I;16B" else "<u2").tobytes())
        assert np.array_equal(rgb8_pixels(image), expected_grey), mode
    assert np.array_equal(rgb8_pixels(Image.fromarray(wide.astype(np.int32), "I")), expected_grey)
    assert np.array_equal(rgb8_pixels(Image.fromarray(grey8.astype(np.float32), "F")), expected_grey)
    assert np.array_equal(rgb8_pixels(Image.fromarray(grey8).convert("LA")), expected_grey)
    assert np.array_equal(
        rgb8_pixels(Image.fromarray(grey8).convert("1", dither=Image.Dither.NONE)),
        np.where(expected_grey >= 128, 255, 0),
    )
    palette = Image.new("P", (4, 2))
    palette.putpalette([255, 0, 0, 0, 0, 255])
    palette.putpixel((0, 0), 1)
    palette.info["transparency"] = 0
    decoded = decode_image(encode(palette, "PNG"), LIMIT).pixels
    assert decoded[0, 0].tolist() == [0, 0, 255] and decoded[1, 1].tolist() == [255, 0, 0]
    cmyk = decode_image(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100), LIMIT).pixels
    assert np.abs(cmyk.astype(int) - [255, 0, 0]).max() <= 3
    for image_format in ("PNG", "WEBP"):
        rgba = Image.new("RGBA", (8, 8), (10, 200, 30, 128))
        decoded = decode_image(encode(rgba, image_format, lossless=True), LIMIT).pixels
        assert np.abs(decoded.astype(int) - [10, 200, 30]).max() <= 1, image_format


# D. JPEGs with a Multi-Picture segment (MPO)


def test_a_jpeg_with_an_mpf_segment_decodes_to_its_first_picture(faces: Faces) -> None:
    primary = photo(faces, 320)
    other = Image.open(faces.person("raj", 1)).convert("RGB").resize((160, 160))
    mpo = encode(primary, "MPO", save_all=True, append_images=[other], quality=90)
    with Image.open(io.BytesIO(mpo)) as opened:
        assert (opened.format, getattr(opened, "n_frames", 1)) == ("MPO", 2)
    decoded = decode_image(mpo, LIMIT)
    assert decoded.format == "JPEG"
    alone = decode_image(encode(primary, "JPEG", quality=90), LIMIT)
    assert np.array_equal(decoded.pixels, alone.pixels)
