"""Hailo backend: SCRFD detection and ArcFace MobileFaceNet embeddings on a Hailo NPU.

Written against HailoRT's InferModel API (``VDevice`` -> ``create_infer_model``
-> ``configure`` -> ``create_bindings`` -> ``run``), the one API that works on
both HailoRT 4.x (Hailo-8, Hailo-8L) and 5.x (Hailo-10H).  One ``VDevice``
holds both networks; the HailoRT scheduler switches between them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from hailo_face_server import scrfd
from hailo_face_server.alignment import ARCFACE_CHIP_SIZE, ARCFACE_TEMPLATE, TemplateAligner
from hailo_face_server.backends.base import BackendInfo, BackendUnavailable, Detections, FaceBackend, l2_normalize
from hailo_face_server.backends.hailo_errors import driver_version, explain, status_of
from hailo_face_server.backends.hailo_models import chip_models, chip_name, locate_hefs
from hailo_face_server.config import HailoConfig
from hailo_face_server.errors import BackendError, BackendTimeout
from hailo_face_server.matching import SimilarityCalibration

_LOGGER = logging.getLogger(__name__)

MODEL_ID = "arcface_mobilefacenet"
VDEVICE_GROUP = "SHARED"
# Not yet measured on a device: typical of ArcFace models (different people
# near 0, the same person 0.5-0.8); see docs/hailo.md.
CALIBRATION = SimilarityCalibration(centre=0.45, width=0.05)


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


class HailoBackend(FaceBackend):
    def __init__(self, config: HailoConfig) -> None:
        hailo = import_hailort()
        self._hailo = hailo
        self._timeout_ms = config.timeout_ms
        library = str(getattr(hailo, "__version__", "unknown"))
        self._library = library
        self._vdevice = self._open_vdevice(config.multi_process_service)
        try:
            reported, firmware = self._identify()
            architecture = chip_name(reported, library)
            chip = chip_models(architecture, library)
            files = locate_hefs(config, chip, library)
            self._detector = self._load(files.detection, "Loading the face detector")
            self._recognizer = self._load(files.recognition, "Loading the face recognizer")
            self._check_networks()
        except BaseException:
            self.close()
            raise
        chip_size = self._recognizer.input_shape[0]
        self.aligner = TemplateAligner(ARCFACE_TEMPLATE * chip_size / ARCFACE_CHIP_SIZE, chip_size)
        self.info = BackendInfo(
            name="hailo",
            model_id=MODEL_ID,
            embedding_dim=int(np.prod(next(iter(self._recognizer.output_shapes.values())))),
            models={"detector": files.detection.stem, "embedder": files.recognition.stem},
            landmark_scheme="arcface_5",
            device=f"{architecture} (HailoRT {library}, firmware {firmware})",
            calibration=CALIBRATION,
            extra={
                "chip": architecture,
                "chip_reported": reported,
                "hailort": library,
                "driver": driver_version(),
                "firmware": firmware,
                "detection_hef": str(files.detection),
                "recognition_hef": str(files.recognition),
            },
        )

    def _unavailable(self, err: Exception, context: str, *, device_seen: bool | None = None) -> BackendUnavailable:
        problem = explain(err, self._library, context, device_seen=device_seen)
        return BackendUnavailable(problem.message, problem.code)

    def _open_vdevice(self, multi_process_service: bool) -> Any:
        try:
            params = self._hailo.VDevice.create_params()
            params.scheduling_algorithm = self._hailo.HailoSchedulingAlgorithm.ROUND_ROBIN
            params.group_id = VDEVICE_GROUP
            params.multi_process_service = multi_process_service
            return self._hailo.VDevice(params)
        except Exception as err:
            raise self._unavailable(err, "Opening the Hailo device", device_seen=self._device_seen()) from err

    def _device_seen(self) -> bool:
        """Whether HailoRT sees a Hailo on this system (scanning works while another process holds it)."""
        try:
            return bool(self._hailo.Device.scan())
        except Exception:
            return False

    def _identify(self) -> tuple[str, str]:
        # pyhailort's Control does not keep its Device alive, and a Device
        # releases the native device when collected: hold the list while
        # control is used ("one-liner usage of control" fails), then release.
        devices: list[Any] = []
        try:
            devices = self._vdevice.get_physical_devices()
            board = devices[0].control.identify()
        except Exception as err:
            raise self._unavailable(err, "Identifying the Hailo chip") from err
        finally:
            for device in devices:
                device.release()
        architecture = board.device_architecture
        name = getattr(architecture, "name", str(architecture)).split(".")[-1]
        return name, str(board.firmware_version)

    def _load(self, hef: Path, context: str) -> HailoNetwork:
        try:
            return HailoNetwork(self._hailo, self._vdevice, hef)
        except Exception as err:
            raise self._unavailable(err, f"{context} from {hef}") from err

    def _check_networks(self) -> None:
        detector, recognizer = self._detector, self._recognizer
        size = detector.input_shape[0]
        if detector.input_shape != (size, size, 3):
            raise BackendUnavailable(
                f"{detector.hef} takes {detector.input_shape}; a face detector takes S x S x 3.", "wrong_model"
            )
        try:
            scrfd.group_outputs({n: np.zeros(s, np.float32) for n, s in detector.output_shapes.items()}, size)
        except ValueError as err:
            raise BackendUnavailable(f"{detector.hef} does not look like SCRFD: {err}", "wrong_model") from err
        chip = recognizer.input_shape[0]
        if recognizer.input_shape != (chip, chip, 3) or len(recognizer.output_shapes) != 1:
            raise BackendUnavailable(
                f"{recognizer.hef} takes {recognizer.input_shape} and has {len(recognizer.output_shapes)} "
                "outputs; ArcFace takes S x S x 3 and has one.",
                "wrong_model",
            )

    def _run(self, network: HailoNetwork, frames: np.ndarray) -> dict[str, np.ndarray]:
        if self.problem:
            raise BackendError(self.problem)
        try:
            return network.run(frames, self._timeout_ms)
        except Exception as err:
            timed_out = status_of(err) == "HAILO_TIMEOUT"
            context = f"Running {network.hef.stem}" + (f" (limit {self._timeout_ms} ms)" if timed_out else "")
            self.problem = explain(err, self._library, context).message
            _LOGGER.error("Hailo backend marked unhealthy: %s", self.problem)
            raise (BackendTimeout if timed_out else BackendError)(self.problem) from err

    def detect(self, pixels: np.ndarray, *, min_face_size: int, threshold: float) -> Detections:
        size = self._detector.input_shape[0]
        canvas, geometry = scrfd.letterbox_image(pixels, size)
        outputs = self._run(self._detector, canvas[None])
        heads = scrfd.group_outputs({name: tensor[0] for name, tensor in outputs.items()}, size)
        found = scrfd.decode(heads, threshold, geometry)
        sides = np.maximum(found.boxes[:, 2] - found.boxes[:, 0], found.boxes[:, 3] - found.boxes[:, 1])
        return found.select(np.flatnonzero(sides >= 0.9 * min_face_size))

    def embed(self, chips: np.ndarray) -> np.ndarray:
        if len(chips) == 0:
            return np.zeros((0, self.info.embedding_dim), np.float32)
        (output,) = self._run(self._recognizer, chips).values()
        return l2_normalize(output.reshape(len(chips), -1))

    def close(self) -> None:
        vdevice, self._vdevice = getattr(self, "_vdevice", None), None
        if vdevice is not None:
            vdevice.release()
