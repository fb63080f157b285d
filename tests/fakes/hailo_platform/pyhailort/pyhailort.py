"""Fake of ``hailo_platform.pyhailort.pyhailort``: the InferModel API over simulated networks."""

from __future__ import annotations

import enum
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hailo_platform.pyhailort import _networks

LIBRARY_VERSION = os.environ.get("HAILO_FAKE_VERSION", "4.21.0")
FAKE_DEVICE_ID = "0000:01:00.0"

# Exceptions, named and worded as pyhailort's.


class HailoRTException(Exception):
    pass


class HailoRTTimeout(HailoRTException):
    pass


class HailoRTInvalidHEFException(HailoRTException):
    pass


class HailoRTHEFNotCompatibleWithDevice(HailoRTException):
    pass


class HailoRTNotFoundException(HailoRTException):
    pass


class HailoRTInvalidArgumentException(HailoRTException):
    pass


class HailoRTInvalidOperationException(HailoRTException):
    pass


class HailoRTStreamAborted(HailoRTException):
    pass


def _status_error(code: int, name: str) -> HailoRTException:
    return HailoRTException(f"libhailort failed with error: {code} ({name})")


class FormatType(enum.IntEnum):
    AUTO = 0
    UINT8 = 1
    UINT16 = 2
    FLOAT32 = 3

    def __str__(self) -> str:
        return f"FormatType.{self.name}"


class FormatOrder(enum.IntEnum):
    AUTO = 0
    NHWC = 1
    NC = 2


class HailoSchedulingAlgorithm(enum.IntEnum):
    NONE = 0
    ROUND_ROBIN = 1


class DeviceArchitectureTypes(enum.IntEnum):
    HAILO8_A0 = 0
    HAILO8 = 1
    HAILO8L = 2
    HAILO15H = 3
    HAILO15L = 4
    HAILO15M = 5
    HAILO10H = 6

    def __str__(self) -> str:
        return self.name


# The simulated device, configured from the environment at each call.


def _architecture() -> DeviceArchitectureTypes | None:
    name = os.environ.get("HAILO_FAKE_ARCH", "HAILO8").upper()
    return None if name in ("", "NONE") else DeviceArchitectureTypes[name]


def _library_version() -> str:
    import hailo_platform

    return str(hailo_platform.__version__)


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = (int(v) for v in version.split(".")[:2])
    return major, minor


def _async_queue_size() -> int:
    return int(os.environ.get("HAILO_FAKE_ASYNC_QUEUE_SIZE", "4"))


def _held_by_another_process() -> bool:
    return os.environ.get("HAILO_FAKE_HELD", "") not in ("", "0")


def _check_driver() -> None:
    driver = os.environ.get("HAILO_FAKE_DRIVER", "")
    if driver and driver != _library_version():
        raise _status_error(76, "HAILO_INVALID_DRIVER_VERSION")


_runs = 0
# The last frame each network was given, for tests that check what the device saw.
last_inputs: dict[str, np.ndarray] = {}


def _count_run_and_maybe_hang(timeout_ms: int) -> None:
    global _runs
    limit = os.environ.get("HAILO_FAKE_HANG_AFTER", "")
    if limit and _runs >= int(limit):
        time.sleep(timeout_ms / 1000)
        raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
    _runs += 1


@dataclass
class HailoFirmwareVersion:
    major: int
    minor: int
    revision: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.revision} (release,app,extended context switch buffer)"


@dataclass
class BoardInformation:
    device_architecture: DeviceArchitectureTypes
    firmware_version: HailoFirmwareVersion
    board_name: str = "Hailo-8"
    protocol_version: int = 2
    is_release: bool = True
    serial_number: str = "<N/A>"
    part_number: str = "<N/A>"
    product_name: str = "<N/A>"


class _NativeDevice:
    """What pyhailort's ``_pyhailort.Device`` is: a handle that ``release`` invalidates."""

    def __init__(self, architecture: DeviceArchitectureTypes) -> None:
        self.architecture = architecture
        self._valid = True

    def is_valid(self) -> bool:
        return self._valid

    def release(self) -> None:
        self._valid = False


def _reported_architecture(architecture: DeviceArchitectureTypes) -> DeviceArchitectureTypes:
    # HailoRT 5.1.x reads the architecture from fuses: a Hailo-10H reports HAILO15H.
    if architecture == DeviceArchitectureTypes.HAILO10H and _version_tuple(_library_version()) == (5, 1):
        return DeviceArchitectureTypes.HAILO15H
    return architecture


class _Control:
    """As pyhailort's: it keeps the native handle, not the ``Device``, so it fails once that is collected."""

    def __init__(self, device: _NativeDevice) -> None:
        self.__device = device

    @property
    def _device(self) -> _NativeDevice:
        if not self.__device.is_valid():
            raise HailoRTInvalidOperationException(
                "The device in use has been released. This can happen if 'device.release()' has been called, "
                "or one-liner usage of control 'Device().control.XX()'"
            )
        return self.__device

    def identify(self) -> BoardInformation:
        device = self._device
        major, minor, revision = (int(v) for v in _library_version().split(".")[:3])
        return BoardInformation(
            _reported_architecture(device.architecture), HailoFirmwareVersion(major, minor, revision)
        )


class Device:
    def __init__(self, device_id: str | None = None) -> None:
        self._device: _NativeDevice | None = None
        architecture = _architecture()
        if architecture is None:
            raise HailoRTException("HailoRT device not found in the system")
        self.device_id = device_id or FAKE_DEVICE_ID
        self._device = _NativeDevice(architecture)
        self._control_object = _Control(self._device)

    @property
    def control(self) -> _Control:
        return self._control_object

    @classmethod
    def scan(cls) -> list[str]:
        # Scanning lists the device even while another process holds it.
        return [] if _architecture() is None else [FAKE_DEVICE_ID]

    def release(self) -> None:
        if self._device is not None:
            self._device.release()
            self._device = None

    def __del__(self) -> None:
        self.release()


@dataclass
class _VDeviceParams:
    device_ids: list[str] = field(default_factory=list)
    device_count: int = 1
    scheduling_algorithm: int = int(HailoSchedulingAlgorithm.ROUND_ROBIN)
    group_id: str = "UNIQUE"
    multi_process_service: bool = False


class VDevice:
    def __init__(self, params: _VDeviceParams | None = None, *, device_ids: list[str] | None = None) -> None:
        architecture = _architecture()
        if architecture is None or _held_by_another_process():
            raise _status_error(74, "HAILO_OUT_OF_PHYSICAL_DEVICES")
        _check_driver()
        self.params = params or _VDeviceParams()
        self._architecture = architecture
        self._released = False

    @staticmethod
    def create_params() -> _VDeviceParams:
        return _VDeviceParams()

    def _check_open(self) -> None:
        if self._released:
            raise HailoRTInvalidOperationException("The device in use has been released.")

    def get_physical_devices_ids(self) -> list[str]:
        self._check_open()
        return [FAKE_DEVICE_ID]

    def get_physical_devices(self) -> list[Device]:
        self._check_open()
        return [Device(FAKE_DEVICE_ID)]

    def create_infer_model(self, hef_source: str | bytes, name: str = "") -> InferModel:
        self._check_open()
        if isinstance(hef_source, bytes):
            text = hef_source.decode("utf-8", "replace")
        else:
            try:
                text = Path(hef_source).read_text(encoding="utf-8")
            except OSError:
                raise _status_error(13, "HAILO_OPEN_FILE_FAILURE") from None
        try:
            hef = json.loads(text)
            network = _networks.NETWORKS[hef["network"]]
            hef_arch = str(hef["arch"]).upper()
            compiled_for = _version_tuple(str(hef.get("hailort", _library_version())))
        except (ValueError, KeyError, TypeError):
            raise HailoRTInvalidHEFException("Invalid HEF. See hailort.log for more information") from None
        # A HEF from a newer Dataflow Compiler than this HailoRT pairs with, or
        # from another major line (or 5.x minor line: the format changed
        # between 5.1 and 5.2), does not load.
        library = _version_tuple(_library_version())
        if compiled_for[0] != library[0] or compiled_for > library or (library[0] == 5 and compiled_for != library):
            raise _status_error(92, "HAILO_HEF_NOT_SUPPORTED")
        device_arch = self._architecture.name
        # A Hailo-8L HEF also runs on a Hailo-8; nothing else crosses chips.
        if hef_arch != device_arch and (hef_arch, device_arch) != ("HAILO8L", "HAILO8"):
            raise HailoRTHEFNotCompatibleWithDevice(
                "HEF file is not compatible with device. See hailort.log for more information"
            )
        return InferModel(self, network)

    def release(self) -> None:
        self._released = True

    def __enter__(self) -> VDevice:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


@dataclass
class QuantInfo:
    qp_zp: float
    qp_scale: float
    limvals_min: float = 0.0
    limvals_max: float = 255.0


@dataclass
class _Format:
    type: FormatType
    order: FormatOrder = FormatOrder.NHWC
    flags: int = 0


class InferModel:
    class InferStream:
        def __init__(self, stream: _networks.Stream) -> None:
            self.name = stream.name
            self.shape = list(stream.shape)
            self.format = _Format(FormatType.UINT8)
            self.quant_infos = [QuantInfo(qp_zp=stream.zero_point, qp_scale=stream.scale)]
            self.is_nms = False

        def set_format_type(self, format_type: FormatType) -> None:
            if format_type not in (FormatType.UINT8, FormatType.FLOAT32):
                raise HailoRTInvalidArgumentException(f"Unsupported format type {format_type}")
            self.format = _Format(FormatType(format_type), self.format.order)

        def set_format_order(self, order: FormatOrder) -> None:
            self.format = _Format(self.format.type, FormatOrder(order))

    def __init__(self, vdevice: VDevice, network: _networks.Network) -> None:
        self._vdevice = vdevice
        self._network = network
        self.inputs = [InferModel.InferStream(network.input)]
        self.outputs = [InferModel.InferStream(stream) for stream in network.outputs]
        self.batch_size = 1

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name for s in self.outputs]

    @staticmethod
    def _find(streams: list[InferModel.InferStream], name: str) -> InferModel.InferStream:
        if not name:
            if len(streams) != 1:
                raise HailoRTNotFoundException("Item not found. See hailort.log for more information")
            return streams[0]
        for stream in streams:
            if stream.name == name:
                return stream
        raise HailoRTNotFoundException("Item not found. See hailort.log for more information")

    def input(self, name: str = "") -> InferModel.InferStream:
        return self._find(self.inputs, name)

    def output(self, name: str = "") -> InferModel.InferStream:
        return self._find(self.outputs, name)

    def set_batch_size(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def configure(self) -> ConfiguredInferModel:
        self._vdevice._check_open()
        return ConfiguredInferModel(self)


class _BoundStream:
    def __init__(self, stream: InferModel.InferStream, buffer: np.ndarray | None) -> None:
        self._stream = stream
        self._buffer = buffer

    def set_buffer(self, buffer: np.ndarray) -> None:
        if not buffer.flags.c_contiguous:
            raise HailoRTException("Buffer must be C_CONTIGUOUS")
        expected = np.uint8 if self._stream.format.type == FormatType.UINT8 else np.float32
        if buffer.dtype != expected or list(buffer.shape) != self._stream.shape:
            raise HailoRTInvalidArgumentException(
                f"Buffer of {buffer.dtype} {list(buffer.shape)} does not fit stream {self._stream.name} "
                f"({np.dtype(expected)} {self._stream.shape})"
            )
        self._buffer = buffer

    def get_buffer(self, tf_format: bool = False) -> np.ndarray:
        if self._buffer is None:
            raise HailoRTInvalidOperationException(f"No buffer is set for {self._stream.name}")
        return self._buffer


class Bindings:
    def __init__(self, model: InferModel, output_buffers: dict[str, np.ndarray] | None) -> None:
        self._inputs = {s.name: _BoundStream(s, None) for s in model.inputs}
        self._outputs = {s.name: _BoundStream(s, None) for s in model.outputs}
        for name, buffer in (output_buffers or {}).items():
            self.output(name).set_buffer(buffer)
        self._output_names = list(self._outputs)

    @staticmethod
    def _find(streams: dict[str, _BoundStream], name: str) -> _BoundStream:
        if not name and len(streams) == 1:
            return next(iter(streams.values()))
        if name in streams:
            return streams[name]
        raise HailoRTNotFoundException("Item not found. See hailort.log for more information")

    def input(self, name: str = "") -> _BoundStream:
        return self._find(self._inputs, name)

    def output(self, name: str = "") -> _BoundStream:
        return self._find(self._outputs, name)


class AsyncInferJob:
    def __init__(self, done: Any) -> None:
        self._done = done

    def wait(self, timeout_ms: int) -> None:
        self._done(timeout_ms)


class ConfiguredInferModel:
    """Runs each binding as one asynchronous request, at most ``get_async_queue_size()`` in flight.

    As libhailort: a request that does not fit the queue fails with
    HAILO_QUEUE_IS_FULL and shuts the model down; after that every request
    fails (the pipeline was aborted).
    """

    def __init__(self, model: InferModel) -> None:
        self._model = model
        self._queue_size = _async_queue_size()
        self._shut_down = False

    def __enter__(self) -> ConfiguredInferModel:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def create_bindings(
        self, input_buffers: dict[str, np.ndarray] | None = None, output_buffers: dict[str, np.ndarray] | None = None
    ) -> Bindings:
        bindings = Bindings(self._model, output_buffers)
        for name, buffer in (input_buffers or {}).items():
            bindings.input(name).set_buffer(buffer)
        return bindings

    def get_async_queue_size(self) -> int:
        return self._queue_size

    def wait_for_async_ready(self, timeout_ms: int = 1000, frames_count: int = 1) -> None:
        # Nothing stays in flight between calls here, so only asking for more than the queue waits.
        if frames_count > self._queue_size:
            time.sleep(timeout_ms / 1000)
            raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")

    def run(self, bindings: list[Bindings], timeout: int) -> None:
        self.run_async(bindings).wait(timeout)

    def run_async(self, bindings: list[Bindings] | Bindings, callback: Any = None) -> AsyncInferJob:
        self._model._vdevice._check_open()
        if self._shut_down:
            raise HailoRTStreamAborted("Stream was aborted")
        requests = bindings if isinstance(bindings, list) else [bindings]
        if len(requests) > self._queue_size:
            self.shutdown()
            raise _status_error(82, "HAILO_QUEUE_IS_FULL")
        return AsyncInferJob(lambda timeout_ms: self._compute(requests, timeout_ms))

    def _compute(self, bindings_list: list[Bindings], timeout_ms: int) -> None:
        network = self._model._network
        for bindings in bindings_list:
            _count_run_and_maybe_hang(timeout_ms)
            frame = bindings.input().get_buffer()
            last_inputs[network.name] = frame.copy()
            raw = network.infer(frame)
            for stream in self._model.outputs:
                out = bindings.output(stream.name).get_buffer()
                quantized = raw[stream.name]
                if stream.format.type == FormatType.FLOAT32:
                    (quant,) = stream.quant_infos
                    out[...] = (quantized.astype(np.float32) - quant.qp_zp) * quant.qp_scale
                else:
                    out[...] = quantized

    def shutdown(self) -> None:
        self._shut_down = True
