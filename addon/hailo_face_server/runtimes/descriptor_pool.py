"""Helper processes that compute dlib face descriptors.

dlib's ResNet holds the GIL for its whole forward pass (about 150 ms a face
here): in the server's process that stalls the event loop, so /health and
every other request wait (measured: up to 150 ms, docs/performance.md).  In
child processes it stalls nothing, and several faces use several cores.
Each child (``python -m hailo_face_server.runtimes.descriptor_helper``) loads
the model once and then answers framed requests on its stdin/stdout: a
little-endian uint32 chip count followed by the chips' bytes, answered by
count x 128 float32.
"""

from __future__ import annotations

import logging
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from hailo_face_server.runtimes.dlib_models import DESCRIPTOR_CHIP_SIZE

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
    def __init__(self, model_path: str, on_ready: Callable[[_Helper], None]) -> None:
        self._on_ready = on_ready
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hailo_face_server.runtimes.descriptor_helper", model_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.ready = threading.Event()
        threading.Thread(target=self._await_ready, name="descriptor-helper-start", daemon=True).start()

    def _await_ready(self) -> None:
        assert self.process.stdout is not None
        if self.process.stdout.read(1) == READY_BYTE:
            self.ready.set()
            self._on_ready(self)
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
    """Shares each batch of chips among idle helper processes.

    Safe to use from several inference threads: a batch takes the idle
    helpers it can use (at least one, waiting for it if all are busy) and
    gives them back.  Until any helper has loaded its model, and if every
    helper died, chips are described in this process, one batch at a time.
    """

    def __init__(self, model_path: str, processes: int) -> None:
        self._changed = threading.Condition()
        self._idle: list[_Helper] = []
        self._helpers = [_Helper(model_path, self._give_back) for _ in range(processes)]
        self._local = threading.Lock()

    def _give_back(self, helper: _Helper) -> None:
        with self._changed:
            if helper in self._helpers:
                self._idle.append(helper)
            self._changed.notify_all()

    def _take(self, wanted: int) -> list[_Helper]:
        """Up to ``wanted`` idle helpers, waiting while all are busy; none if none is ready."""
        with self._changed:
            while not self._idle and any(h.ready.is_set() for h in self._helpers):
                self._changed.wait()
            taken, self._idle = self._idle[:wanted], self._idle[wanted:]
            return taken

    def describe(self, model: Any, chips: np.ndarray) -> np.ndarray:
        helpers = self._take(len(chips))
        if not helpers:
            with self._local:
                return describe_chips(model, chips)
        result = np.zeros((len(chips), DESCRIPTOR_DIM), np.float32)
        shares = np.array_split(np.arange(len(chips)), len(helpers))
        sent: list[tuple[_Helper, np.ndarray]] = []
        try:
            for helper, share in zip(helpers, shares, strict=True):
                try:
                    helper.send(chips[share])
                    sent.append((helper, share))
                except OSError:
                    self._drop(helper)
                    with self._local:
                        result[share] = describe_chips(model, chips[share])
            for helper, share in sent:
                try:
                    result[share] = helper.receive(len(share))
                except (OSError, EOFError, ValueError):
                    self._drop(helper)
                    with self._local:
                        result[share] = describe_chips(model, chips[share])
        finally:
            for helper in helpers:
                if helper in self._helpers:
                    self._give_back(helper)
        return result

    def _drop(self, helper: _Helper) -> None:
        _LOGGER.warning("A descriptor helper process stopped (exit code %s); using fewer cores", helper.process.poll())
        with self._changed:
            self._helpers.remove(helper)
            self._changed.notify_all()
        helper.close()

    def close(self) -> None:
        with self._changed:
            helpers, self._helpers, self._idle = self._helpers, [], []
            self._changed.notify_all()
        for helper in helpers:
            helper.close()
