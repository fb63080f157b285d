"""HailoRT: one VDevice, the networks configured on it, and the device's health.

Written against HailoRT's InferModel API (``VDevice`` -> ``create_infer_model``
-> ``configure`` -> ``create_bindings`` -> ``run``), the one API that works on
both HailoRT 4.x (Hailo-8, Hailo-8L) and 5.x (Hailo-10H). One ``VDevice``
holds every network; the HailoRT scheduler switches between them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from hailo_face_server.errors import BackendError, BackendTimeout
from hailo_face_server.runtimes.hailo_errors import explain, status_of
from hailo_face_server.unavailable import BackendUnavailable

_LOGGER = logging.getLogger(__name__)

VDEVICE_GROUP = "SHARED"


def import_hailort() -> Any:
    try:
        import hailo_platform
    except ImportError as err:
        raise BackendUnavailable(
            f"HailoRT's Python binding (hailo_platform) is not installed or does not load: {err}", "not_installed"
        ) from err
    return hailo_platform


class HailoNetwork:
    """One configured network with reusable bindings; UINT8 in, dequantised FLOAT32 out.

    ``run`` sends each binding as one asynchronous request; more than the
    model's async queue holds makes HailoRT answer HAILO_QUEUE_IS_FULL and
    shut the configured model down, so frames go in chunks of the queue size.
    """

    def __init__(self, hailo: Any, vdevice: Any, hef: Path) -> None:
        self.hef = hef
        model = vdevice.create_infer_model(str(hef))
        model.set_batch_size(1)
        model.input().set_format_type(hailo.FormatType.UINT8)
        for output in model.outputs:
            output.set_format_type(hailo.FormatType.FLOAT32)
        self.input_shape = tuple(int(v) for v in model.input().shape)
        self.output_shapes = {output.name: tuple(int(v) for v in output.shape) for output in model.outputs}
        self._model = model
        self._configured = model.configure()
        self.queue_size = max(1, int(self._configured.get_async_queue_size()))
        self._bindings: list[Any] = []

    def run(self, frames: np.ndarray, timeout_ms: int) -> dict[str, np.ndarray]:
        """Outputs for N input frames, each output stacked to N x its shape."""
        count = len(frames)
        outputs = {name: np.empty((count, *shape), np.float32) for name, shape in self.output_shapes.items()}
        for start in range(0, count, self.queue_size):
            chunk = frames[start : start + self.queue_size]
            while len(self._bindings) < len(chunk):
                buffers = {name: np.empty(shape, dtype=np.float32) for name, shape in self.output_shapes.items()}
                self._bindings.append(self._configured.create_bindings(output_buffers=buffers))
            bindings = self._bindings[: len(chunk)]
            for binding, frame in zip(bindings, chunk, strict=True):
                binding.input().set_buffer(np.ascontiguousarray(frame, dtype=np.uint8))
            self._configured.run(bindings, timeout_ms)
            for name, stacked in outputs.items():
                for offset, binding in enumerate(bindings):
                    stacked[start + offset] = binding.output(name).get_buffer()
        return outputs


class HailoRuntime:
    """The device: opened once, identified, networks loaded onto it, runs guarded.

    A run that fails marks the runtime unhealthy (``problem``): only a restart mends a device that timed out.
    """

    def __init__(self, *, timeout_ms: int, multi_process_service: bool) -> None:
        self.hailo = import_hailort()
        self.library = str(getattr(self.hailo, "__version__", "unknown"))
        self.problem: str | None = None
        self._timeout_ms = timeout_ms
        self._vdevice: Any = None
        self._vdevice = self._open_vdevice(multi_process_service)

    def unavailable(self, err: Exception, context: str, *, device_seen: bool | None = None) -> BackendUnavailable:
        problem = explain(err, self.library, context, device_seen=device_seen)
        return BackendUnavailable(problem.message, problem.code)

    def _open_vdevice(self, multi_process_service: bool) -> Any:
        try:
            params = self.hailo.VDevice.create_params()
            params.scheduling_algorithm = self.hailo.HailoSchedulingAlgorithm.ROUND_ROBIN
            params.group_id = VDEVICE_GROUP
            params.multi_process_service = multi_process_service
            return self.hailo.VDevice(params)
        except Exception as err:
            raise self.unavailable(err, "Opening the Hailo device", device_seen=self._device_seen()) from err

    def _device_seen(self) -> bool:
        """Whether HailoRT sees a Hailo on this system (scanning works while another process holds it)."""
        try:
            return bool(self.hailo.Device.scan())
        except Exception:
            return False

    def identify(self) -> tuple[str, str]:
        """The chip's architecture as the device reports it, and its firmware version."""
        # pyhailort's Control does not keep its Device alive, and a Device
        # releases the native device when collected: hold the list while
        # control is used ("one-liner usage of control" fails), then release.
        devices: list[Any] = []
        try:
            devices = self._vdevice.get_physical_devices()
            board = devices[0].control.identify()
        except Exception as err:
            raise self.unavailable(err, "Identifying the Hailo chip") from err
        finally:
            for device in devices:
                device.release()
        architecture = board.device_architecture
        name = getattr(architecture, "name", str(architecture)).split(".")[-1]
        return name, str(board.firmware_version)

    def load(self, hef: Path, context: str) -> HailoNetwork:
        try:
            return HailoNetwork(self.hailo, self._vdevice, hef)
        except Exception as err:
            raise self.unavailable(err, f"{context} from {hef}") from err

    def run(self, network: HailoNetwork, frames: np.ndarray) -> dict[str, np.ndarray]:
        if self.problem:
            raise BackendError(self.problem)
        try:
            return network.run(frames, self._timeout_ms)
        except Exception as err:
            timed_out = status_of(err) == "HAILO_TIMEOUT"
            context = f"Running {network.hef.stem}" + (f" (limit {self._timeout_ms} ms)" if timed_out else "")
            self.problem = explain(err, self.library, context).message
            _LOGGER.error("Hailo backend marked unhealthy: %s", self.problem)
            raise (BackendTimeout if timed_out else BackendError)(self.problem) from err

    def close(self) -> None:
        vdevice, self._vdevice = self._vdevice, None
        if vdevice is not None:
            vdevice.release()
