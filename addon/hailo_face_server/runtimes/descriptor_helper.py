"""Child process of DescriptorPool: ``python -m hailo_face_server.runtimes.descriptor_helper MODEL``."""

from __future__ import annotations

import sys

import numpy as np

from hailo_face_server.runtimes.descriptor_pool import CHIP_BYTES, READY_BYTE, describe_chips, read_exactly
from hailo_face_server.runtimes.dlib_models import DESCRIPTOR_CHIP_SIZE, import_dlib


def serve(model_path: str) -> int:
    model = import_dlib().face_recognition_model_v1(model_path)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    answers.write(READY_BYTE)
    answers.flush()
    while True:
        try:
            header = read_exactly(requests, 4)
        except EOFError:
            return 0
        count = int.from_bytes(header, "little")
        data = read_exactly(requests, count * CHIP_BYTES)
        chips = np.frombuffer(data, dtype=np.uint8).reshape(count, DESCRIPTOR_CHIP_SIZE, DESCRIPTOR_CHIP_SIZE, 3)
        answers.write(describe_chips(model, chips).astype("<f4").tobytes())
        answers.flush()


if __name__ == "__main__":
    raise SystemExit(serve(sys.argv[1]))
