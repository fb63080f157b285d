"""Helper processes that compute dlib face descriptors on the other cores.

dlib's ResNet holds the GIL for the whole forward pass, so threads cannot
share the work; child processes can.  Each child (``python -m
hailo_face_server.backends.descriptor_helper``) loads the model once and then
answers framed requests on its stdin/stdout: a little-endian uint32 chip
count followed by the chips' bytes, answered by count x 128 float32.
"""

from __future__ import annotations

import logging
import struct
import subprocess
import sys
import threading
from typing import IO, Any

import numpy as np

from hailo_face_server.backends.dlib_models import DESCRIPTOR_CHIP_SIZE

_LOGGER = logging.getLogger(__name__)

DESCRIPTOR_DIM = 128
CHIP_BYTES = DESCRIPTOR_CHIP_SIZE * DESCRIPTOR_CHIP_SIZE * 3
READY_BYTE = b"R"
_COUNT = struct.Struct("<I")


def describe_chips(model: Any, chips: np.ndarray) -> np.ndarray:
    """Raw (unnormalised) 128-D dlib descriptors of aligned 150 x 150 chips."""
    vectors = model.compute_face_descriptor([np.ascontiguousarray(chip) for chip in chips])
    return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32).reshape(len(chips), DESCRIPTOR_DIM)


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the stream ended early")
        data.extend(chunk)
    return bytes(data)


class _Helper:
    def __init__(self, model_path: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hailo_face_server.backends.descriptor_helper", model_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.ready = threading.Event()
        threading.Thread(target=self._await_ready, name="descriptor-helper-start", daemon=True).start()

    def _await_ready(self) -> None:
        assert self.process.stdout is not None
        if self.process.stdout.read(1) == READY_BYTE:
            self.ready.set()
        else:
            _LOGGER.warning("A descriptor helper process failed to start; using fewer cores")

    def send(self, chips: np.ndarray) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(_COUNT.pack(len(chips)) + np.ascontiguousarray(chips, np.uint8).tobytes())
        self.process.stdin.flush()

    def receive(self, count: int) -> np.ndarray:
        assert self.process.stdout is not None
        data = read_exactly(self.process.stdout, count * DESCRIPTOR_DIM * 4)
        return np.frombuffer(data, dtype="<f4").reshape(count, DESCRIPTOR_DIM).copy()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class DescriptorPool:
    """Shares a batch of chips between this thread and the helper processes.

    Used from one thread only (the inference worker).  A helper that has not
    finished loading is skipped; one that dies is dropped with a warning.
    """

    def __init__(self, model_path: str, processes: int) -> None:
        self._helpers = [_Helper(model_path) for _ in range(processes)]

    def describe(self, model: Any, chips: np.ndarray) -> np.ndarray:
        helpers = [h for h in self._helpers if h.ready.is_set()]
        shares = np.array_split(np.arange(len(chips)), len(helpers) + 1)
        sent: list[tuple[_Helper, np.ndarray]] = []
        for helper, share in zip(helpers, shares[1:], strict=True):
            if len(share) == 0:
                continue
            try:
                helper.send(chips[share])
                sent.append((helper, share))
            except OSError:
                self._drop(helper)
        result = np.zeros((len(chips), DESCRIPTOR_DIM), np.float32)
        result[shares[0]] = describe_chips(model, chips[shares[0]])
        for helper, share in sent:
            try:
                result[share] = helper.receive(len(share))
            except (OSError, EOFError, ValueError):
                self._drop(helper)
                result[share] = describe_chips(model, chips[share])
        return result

    def _drop(self, helper: _Helper) -> None:
        _LOGGER.warning("A descriptor helper process stopped (exit code %s); using fewer cores", helper.process.poll())
        self._helpers.remove(helper)
        helper.close()

    def close(self) -> None:
        for helper in self._helpers:
            helper.close()
        self._helpers = []
