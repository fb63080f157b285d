"""The Hailo backend's host side: what the Pi's CPU pays on top of the NPU.

Runs the real backend code on the fake HailoRT (tests/fakes); the fake
device's own compute is left out, only the host's stages are timed.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.images import bench_images
from bench.timing import timed_median_ms
from hailo_face_server import scrfd
from hailo_face_server.config import build_config
from hailo_face_server.imaging import decode_image

FAKES = Path(__file__).resolve().parents[1] / "tests" / "fakes"


def _post_process(outputs: dict[str, Any], size: int, geometry: scrfd.Letterbox) -> Any:
    return scrfd.decode(scrfd.group_outputs(outputs, size), 0.5, geometry)


def run(repeats: int, smoke: bool) -> list[dict[str, Any]]:
    sys.path.insert(0, str(FAKES))
    from hailo_face_server.backends.hailo import HailoBackend
    from tests.server.hailo_fake import write_model_dir

    def host_ms(fn: Callable[[], Any]) -> float:
        return timed_median_ms(fn, repeats, digits=2)

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
                decode = host_ms(functools.partial(decode_image, image.jpeg, 10**8))
                letterbox = host_ms(functools.partial(scrfd.letterbox_image, pixels, size))
                scrfd_decode = host_ms(post_process)
                align = host_ms(functools.partial(backend.aligner.align, pixels, found.landmarks))
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
