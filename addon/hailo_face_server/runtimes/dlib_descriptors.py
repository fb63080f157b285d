"""The two ways the CPU backend computes dlib's face descriptor: onnxruntime (default) or dlib itself."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hailo_face_server.runtimes.descriptor_pool import DescriptorPool, describe_chips
from hailo_face_server.runtimes.dlib_models import DlibModelFiles

_LOGGER = logging.getLogger(__name__)

MAX_HELPERS = 4
DESCRIPTORS = ("onnxruntime", "dlib")


class Descriptor(Protocol):
    name: str
    concurrency: int

    def describe(self, chips: np.ndarray) -> np.ndarray:
        """Raw 128-D descriptors of N aligned 150 x 150 chips."""
        ...

    def close(self) -> None: ...


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hailo-face"


# Chips a run: measured here on 40 chips (2 cores), one run of 40 added 98 MB to the peak resident
# memory, runs of 16 added 33 MB, of 8 16 MB, at the same 2.9 ms a face (runs of 4: 3.1 ms).
MAX_BATCH = 8


class OnnxDescriptor:
    """dlib's ResNet converted to ONNX once (backends/dlib_onnx.py) and run by onnxruntime.

    onnxruntime releases the GIL and uses every core for a batch, so no helper
    processes are needed; requests may run one per core.
    """

    name = "onnxruntime"

    def __init__(self, files: DlibModelFiles, cache_dir: Path) -> None:
        import onnxruntime

        from hailo_face_server.runtimes.dlib_onnx import INPUT_NAME, converted_model

        cores = os.cpu_count() or 1
        self.model_path = converted_model(files.descriptor, cache_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = cores
        # Threads that spin while waiting burn the cores other requests need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        self._input = INPUT_NAME
        self.concurrency = min(cores, MAX_HELPERS)

    def describe(self, chips: np.ndarray) -> np.ndarray:
        """At most ``MAX_BATCH`` chips a run: onnxruntime holds a run's activations for its whole batch."""
        if len(chips) <= MAX_BATCH:
            (output,) = self._session.run(None, {self._input: np.ascontiguousarray(chips, dtype=np.uint8)})
            descriptors: np.ndarray = output
            return descriptors
        return np.concatenate(
            [self.describe(chips[start : start + MAX_BATCH]) for start in range(0, len(chips), MAX_BATCH)]
        )

    def close(self) -> None:
        pass


class DlibDescriptor:
    """dlib's own ResNet, in helper processes (it holds the GIL for ~150 ms a face)."""

    name = "dlib"

    def __init__(self, dlib: Any, files: DlibModelFiles, helper_processes: int | None) -> None:
        self._model = dlib.face_recognition_model_v1(str(files.descriptor))
        helpers = min(os.cpu_count() or 1, MAX_HELPERS) if helper_processes is None else helper_processes
        self._pool = DescriptorPool(str(files.descriptor), helpers) if helpers else None
        self.concurrency = max(1, helpers)

    def describe(self, chips: np.ndarray) -> np.ndarray:
        if self._pool is not None:
            return self._pool.describe(self._model, chips)
        return describe_chips(self._model, chips)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def load_descriptor(
    choice: str, dlib: Any, files: DlibModelFiles, cache_dir: Path | None, helper_processes: int | None
) -> Descriptor:
    """The chosen descriptor; onnxruntime falls back to dlib's own (slower) with a warning."""
    if choice == "onnxruntime":
        try:
            return OnnxDescriptor(files, cache_dir or default_cache_dir())
        except Exception as err:
            _LOGGER.warning("onnxruntime descriptor unavailable (%s); using dlib's own, about 15x slower", err)
    return DlibDescriptor(dlib, files, helper_processes)
