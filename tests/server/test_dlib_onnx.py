"""Our dlib-to-ONNX converter: dlib's descriptors within 1e-4, on every face of the test photographs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from hailo_face_server.backends.cpu import CpuBackend
from hailo_face_server.imaging import decode_image
from hailo_face_server.runtimes.descriptor_pool import describe_chips
from hailo_face_server.runtimes.dlib_descriptors import MAX_BATCH, OnnxDescriptor
from hailo_face_server.runtimes.dlib_models import find_model_files, import_dlib
from hailo_face_server.runtimes.dlib_onnx import ConversionError, converted_model, read_dlib_resnet
from tests.support import PEOPLE, Faces


def test_the_model_file_reads_as_dlibs_face_resnet() -> None:
    net = read_dlib_resnet(find_model_files().descriptor)
    assert [round(m, 3) for m in net.channel_means] == [122.782, 117.001, 104.298]
    assert net.stem.weights.shape == (32, 3, 7, 7)
    assert (net.stem.stride, net.stem.padding) == (2, 0)
    assert len(net.blocks) == 14
    assert [b.downsample for b in net.blocks].count(True) == 4
    assert [b.conv2.weights.shape[0] for b in net.blocks] == [32] * 3 + [64] * 4 + [128] * 3 + [256] * 4
    assert net.projection.shape == (256, 128)


def test_conversion_happens_once_keyed_by_the_source(tmp_path: Path) -> None:
    source = find_model_files().descriptor
    first = converted_model(source, tmp_path)
    written = first.stat().st_mtime_ns
    assert converted_model(source, tmp_path) == first
    assert first.stat().st_mtime_ns == written
    assert list(tmp_path.iterdir()) == [first]


def test_a_file_that_is_not_the_face_resnet_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.dat"
    other.write_bytes(find_model_files().shape_predictor.read_bytes()[:100_000])
    with pytest.raises(ConversionError):
        converted_model(other, tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


@pytest.fixture(scope="module")
def all_chips(cpu_backend: CpuBackend, faces: Faces) -> np.ndarray:
    paths = [faces.person(name, number) for name in PEOPLE for number in range(1, 6)]
    paths += [faces.group("bbt1.jpg"), faces.group("bbt3.jpg")]
    chips = []
    for path in paths:
        frame = decode_image(path.read_bytes(), 10**8).frame
        found = cpu_backend.detect(frame, min_face_size=40, threshold=0.5)
        chips.append(cpu_backend.align(frame, found))
    return np.concatenate(chips)


def test_onnxruntime_gives_dlibs_descriptors_within_1e_4(all_chips: np.ndarray, tmp_path: Path) -> None:
    assert len(all_chips) == 40 + 9  # every portrait and the nine faces of the group photos
    assert len(all_chips) > 2 * MAX_BATCH  # described in several runs, their order kept
    reference = describe_chips(import_dlib().face_recognition_model_v1(str(find_model_files().descriptor)), all_chips)
    converted = OnnxDescriptor(find_model_files(), tmp_path).describe(all_chips)
    assert converted.shape == reference.shape == (len(all_chips), 128)
    assert float(np.abs(converted - reference).max()) <= 1e-4


def test_the_backend_falls_back_to_dlib_when_onnxruntime_cannot_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    unwritable = tmp_path / "cache"
    unwritable.mkdir()
    os.chmod(unwritable, 0o500)
    if os.access(unwritable, os.W_OK):
        monkeypatch.setattr("hailo_face_server.runtimes.dlib_onnx.read_dlib_resnet", _refuse)
    caplog.set_level(logging.WARNING)
    backend = CpuBackend(helper_processes=0, model_cache_dir=unwritable)
    try:
        assert backend.info.models["embedder_runtime"] == "dlib"
        assert "onnxruntime descriptor unavailable" in caplog.text
        assert backend.embed(np.zeros((1, 150, 150, 3), np.uint8)).shape == (1, 128)
    finally:
        backend.close()


def _refuse(path: Path) -> None:
    raise ConversionError("refused for the test")
