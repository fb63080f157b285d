"""The Hailo backend's host side: what the Pi's CPU pays on top of the NPU, against Pillow's decode.

Runs the real backend code on the fake HailoRT (tests/fakes); the fake
device's own compute is left out, only the host's stages are timed: the
decode (checks included), the letterbox (SCRFD's own shrink: OpenCV's
bilinear resize, i.e. a 1080p frame's 3 x 3 blocks sampled at their centre
pixels; other sizes a whole-factor reduction, then a small resize), SCRFD's
decoding and NMS, and the
chips cut from full resolution. The baseline is Pillow decoding the same
JPEG in the same run (``Image.open(...).load()``).
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from bench.images import BenchImage, bench_images, camera_frames
from hailo_face_server.config import build_config
from hailo_face_server.detectors import scrfd
from hailo_face_server.imaging import decode_image

FAKES = Path(__file__).resolve().parents[1] / "tests" / "fakes"


Stage = tuple[Callable[[], Any], Callable[[Any], Any]]  # (setup, not timed; the timed call on what it made)


def interleaved_ms(stages: dict[str, Stage], repeats: int) -> dict[str, float]:
    """Each stage's median time in milliseconds, the stages taking turns in every repeat.

    A slower spell of the machine then falls on the baseline and the stages alike,
    not on whichever stage happened to be timed during it.
    """
    times: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(repeats):
        for name, (setup, fn) in stages.items():
            prepared = setup()
            start = time.perf_counter()
            fn(prepared)
            times[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(values) * 1000, 2) for name, values in times.items()}


def pillow_decode(jpeg: bytes) -> None:
    with Image.open(io.BytesIO(jpeg)) as image:
        image.load()


def run(repeats: int, smoke: bool) -> list[dict[str, Any]]:
    sys.path.insert(0, str(FAKES))
    from hailo_face_server.backends.hailo import HailoBackend
    from tests.server.hailo_fake import write_model_dir

    images: list[BenchImage] = bench_images()[:1] if smoke else [*bench_images(), *camera_frames()]
    rows = []
    with tempfile.TemporaryDirectory() as models:
        config = build_config({}, {"hailo.model_dir": str(write_model_dir(Path(models)))})
        backend = HailoBackend(config.hailo)
        detector = backend.detector
        assert isinstance(detector, scrfd.ScrfdDetector)
        size = detector.input_size
        try:
            for image in images:
                frame = decode_image(image.jpeg, 10**8).frame
                canvas, geometry = scrfd.letterbox_image(frame, size)
                raw = backend.runtime.run(detector._network, canvas[None])
                outputs = {name: tensor[0] for name, tensor in raw.items()}
                found = scrfd.decode(scrfd.group_outputs(outputs, size), 0.5, geometry)

                def fresh_frame(jpeg: bytes = image.jpeg) -> Any:
                    return decode_image(jpeg, 10**8).frame

                nothing: Callable[[], Any] = lambda: None  # noqa: E731
                stages: dict[str, Stage] = {
                    "baseline": (nothing, lambda _, j=image.jpeg: pillow_decode(j)),
                    "decode": (nothing, lambda _, j=image.jpeg: decode_image(j, 10**8)),
                    "letterbox": (fresh_frame, lambda f: scrfd.letterbox_image(f, size)),
                    "post": (
                        nothing,
                        lambda _, o=outputs, g=geometry: scrfd.decode(scrfd.group_outputs(o, size), 0.5, g),
                    ),
                    "align": (fresh_frame, lambda f, d=found: backend.align(f, d)),
                }
                ms = interleaved_ms(stages, repeats)
                baseline, decode, letterbox, post, align = (
                    ms[name] for name in ("baseline", "decode", "letterbox", "post", "align")
                )
                total = round(decode + letterbox + post + align, 2)
                rows.append(
                    {
                        "image": image.name,
                        "faces": len(found),
                        "pillow_decode_ms": baseline,
                        "decode_ms": decode,
                        "letterbox_ms": letterbox,
                        "scrfd_decode_nms_ms": post,
                        "align_ms": align,
                        "host_total_ms": total,
                        "ratio_to_decode": round(total / baseline, 2),
                    }
                )
        finally:
            backend.close()
    return rows
