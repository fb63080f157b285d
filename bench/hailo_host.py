"""The Hailo backend's host side: what the Pi's CPU pays on top of the NPU.

Runs the real backend code on the fake HailoRT (tests/fakes); the fake
device's own compute is left out, only the host's stages are timed.
"""

from __future__ import annotations

import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.images import bench_images
from hailo_face_server import scrfd
from hailo_face_server.config import build_config
from hailo_face_server.imaging import decode_image

FAKES = Path(__file__).resolve().parents[1] / "tests" / "fakes"


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def _post_process(outputs: dict[str, Any], size: int, geometry: scrfd.Letterbox) -> Any:
    return scrfd.decode(scrfd.group_outputs(outputs, size), 0.5, geometry)


def run(repeats: int, smoke: bool) -> list[dict[str, Any]]:
    sys.path.insert(0, str(FAKES))
    from hailo_face_server.backends.hailo import HailoBackend
    from tests.server.hailo_fake import write_model_dir

    rows = []
    with tempfile.TemporaryDirectory() as models:
        config = build_config({}, {"hailo.model_dir": str(write_model_dir(Path(models)))})
        backend = HailoBackend(config.hailo)
        try:
            size = backend._detector.input_shape[0]
            for image in bench_images()[:1] if smoke else bench_images():
                pixels = decode_image(image.jpeg, 10**8).pixels
                canvas, geometry = scrfd.letterbox_image(pixels, size)
                raw = backend._detector.run(canvas[None], 5000)
                outputs = {name: tensor[0] for name, tensor in raw.items()}

                post_process = functools.partial(_post_process, outputs, size, geometry)
                found = post_process()
                chips = backend.aligner.align(pixels, found.landmarks)
                decode = _median_ms(functools.partial(decode_image, image.jpeg, 10**8), repeats)
                letterbox = _median_ms(functools.partial(scrfd.letterbox_image, pixels, size), repeats)
                scrfd_decode = _median_ms(post_process, repeats)
                align = _median_ms(functools.partial(backend.aligner.align, pixels, found.landmarks), repeats)
                rows.append(
                    {
                        "image": image.name,
                        "faces": len(found),
                        "chips": len(chips),
                        "decode_ms": decode,
                        "letterbox_ms": letterbox,
                        "scrfd_decode_nms_ms": scrfd_decode,
                        "align_ms": align,
                        "host_total_ms": round(decode + letterbox + scrfd_decode + align, 2),
                    }
                )
        finally:
            backend.close()
    return rows
