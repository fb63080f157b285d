"""Memory of decoding at once: peak and after RSS, with and without the decode budget, and the JPEG scan bomb.

``python -m bench.decode_memory [--smoke] [--side 6300] [--images 10] [--threads 10 2] [--budget-mb 0 1024 512]``

The image is the one of the attack: a 16-bit RGBA PNG of 6300 x 6300 pixels (39.7 megapixels,
under the 40-megapixel limit) of a few hundred KB. Each row decodes ``--images`` copies on
``--threads`` threads in a fresh process, so its peak RSS (VmHWM) is its own; a budget of 0 is
unlimited, what the server did before the budget. "after" is the RSS once every result is dropped.
Then a progressive JPEG whose last scan is repeated is timed: refused, and decoded without the scan limit.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.timing import median_ms

MB = 1024 * 1024


def png16_rgba(side: int) -> bytes:
    """A side x side 16-bit RGBA PNG: one row of noise, then rows equal to the one above (filter Up)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    noise = bytes((i * 2654435761 >> 13) & 0xFF for i in range(side * 8))
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(b"\x00" + noise)]
    same_as_above = b"\x02" + bytes(side * 8)
    parts += [deflate.compress(same_as_above) for _ in range(side - 1)]
    parts.append(deflate.flush())
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(key + ":"))


def child(path: str, images: int, threads: int, budget_mb: int) -> None:
    """In a fresh process: decode ``images`` copies on ``threads`` threads; print the memory as JSON."""
    from hailo_face_server.decode_budget import DecodeBudget
    from hailo_face_server.imaging import decode_image

    data = Path(path).read_bytes()
    budget = DecodeBudget(budget_mb * MB if budget_mb else 1 << 50)
    before = _status_bytes("VmRSS")

    def decode(_: int) -> int:
        return int(decode_image(data, 10**9, budget=budget, budget_wait=None).pixels[0, 0, 0])

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(decode, range(images)))
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "peak_mb": round((_status_bytes("VmHWM") - before) / MB),
                "after_mb": round((_status_bytes("VmRSS") - before) / MB),
                "budget_peak_mb": round(budget.peak / MB),
                "seconds": round(seconds, 1),
            }
        )
    )


def memory_row(path: Path, images: int, threads: int, budget_mb: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.decode_memory", "--child", str(path), str(images), str(threads), str(budget_mb)],
        capture_output=True,
        text=True,
        check=True,
    )
    row: dict[str, Any] = json.loads(done.stdout)
    return {"threads": threads, "images": images, "budget_mb": budget_mb or "unlimited", **row}


def scan_bomb(side: int, repeats: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(out, "JPEG", progressive=True, quality=90)
    jpeg = out.getvalue()
    last_scan, end = jpeg.rindex(b"\xff\xda"), jpeg.rindex(b"\xff\xd9")
    return jpeg[:end] + jpeg[last_scan:end] * repeats + jpeg[end:]


def scan_bomb_row(side: int, repeats: int) -> dict[str, Any]:
    from hailo_face_server.errors import InvalidImage
    from hailo_face_server.imaging import decode_image

    bomb = scan_bomb(side, repeats)
    refused = []
    for _ in range(5):
        start = time.perf_counter()
        try:
            decode_image(bomb, 10**9)
        except InvalidImage:
            refused.append(time.perf_counter() - start)
    start = time.perf_counter()
    decode_image(bomb, 10**9, max_jpeg_scans=10**9, max_jpeg_scan_pixels=10**18)
    unlimited = time.perf_counter() - start
    return {
        "pixels": f"{side}x{side}",
        "scans": repeats + 10,
        "kb": round(len(bomb) / 1024),
        "refused_ms_median": median_ms(refused, 2) if len(refused) == 5 else None,
        "decoded_without_limit_s": round(unlimited, 2),
    }


def run(
    side: int, images: int, threads: Sequence[int], budgets_mb: Sequence[int], bomb: tuple[int, int]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "attack.png"
        path.write_bytes(png16_rgba(side))
        size_kb = round(path.stat().st_size / 1024)
        rows = [memory_row(path, images, count, budget) for count in threads for budget in budgets_mb]
    return {
        "png": {"pixels": f"{side}x{side} 16-bit RGBA", "kb": size_kb},
        "memory": rows,
        "scan_bomb": scan_bomb_row(*bomb),
    }


def print_report(results: dict[str, Any]) -> None:
    png = results["png"]
    print(f"\n{png['pixels']} PNG, {png['kb']} KB; RSS above the process's before decoding\n")
    print("| threads | images | budget MB | peak RSS MB | after MB | budget peak MB | seconds |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in results["memory"]:
        print(
            f"| {row['threads']} | {row['images']} | {row['budget_mb']} | {row['peak_mb']} | {row['after_mb']} "
            f"| {row['budget_peak_mb']} | {row['seconds']} |"
        )
    bomb = results["scan_bomb"]
    print(
        f"\nScan bomb: {bomb['pixels']} progressive JPEG, {bomb['scans']} scans, {bomb['kb']} KB: refused in "
        f"{bomb['refused_ms_median']} ms (median of 5); decoding it without the limit takes "
        f"{bomb['decoded_without_limit_s']} s\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="small and quick: 2000 px, 4 images")
    parser.add_argument("--side", type=int, default=6300)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--threads", type=int, nargs="+", default=[10, 2])
    parser.add_argument("--budget-mb", type=int, nargs="+", default=[0, 1024, 512], help="0: unlimited")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        path, images, threads, budget_mb = args.child
        child(path, int(images), int(threads), int(budget_mb))
        return 0
    if args.smoke:
        results = run(2000, 4, [4], [0, 64], (1000, 100))
    else:
        results = run(args.side, args.images, args.threads, args.budget_mb, (6000, 1200))
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
