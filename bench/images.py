"""The benchmark images: the test photographs scaled to 640 px and 1080p wide."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tests.support import FACES_DIR

WIDTHS = {"640px": 640, "1080p": 1920}


@dataclass(frozen=True)
class BenchImage:
    name: str
    faces: int
    width: int
    height: int
    jpeg: bytes


def _scaled(path: Path, width: int) -> tuple[bytes, int, int]:
    image = Image.open(path).convert("RGB")
    height = round(image.height * width / image.width)
    scaled = image.resize((width, height), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    scaled.save(out, "JPEG", quality=92)
    return out.getvalue(), width, height


def bench_images(faces_dir: Path = FACES_DIR) -> list[BenchImage]:
    """A one-face portrait (penny2) and the five-face group photo (bbt3), at each width."""
    sources = [
        ("1 face", 1, faces_dir / "people" / "penny" / "penny2.png"),
        ("5 faces", 5, faces_dir / "groups" / "bbt3.jpg"),
    ]
    images = []
    for label, count, path in sources:
        for size, width in WIDTHS.items():
            jpeg, w, h = _scaled(path, width)
            images.append(BenchImage(f"{label}, {size}", count, w, h, jpeg))
    return images
