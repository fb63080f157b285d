"""Model files that ship inside a PyPI wheel, checked by hash and made runnable by onnxruntime.

OpenCV Zoo's int8 "block-quantised" files (YuNet, SFace) do not run on
onnxruntime as shipped: some ``DequantizeLinear`` nodes carry a ``block_size``
with a per-tensor scale. Every such node dequantises a constant weight, so it
is folded here into a float32 initialiser once, and the result is cached
under the data folder, named by the source's hash. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto, TensorProto


class ModelUnavailable(Exception):
    """A model file is missing or not the one expected; the message says what to do."""


@dataclass(frozen=True)
class PackagedModel:
    package: str  # the PyPI wheel's import name
    relative_path: str
    sha256: str
    install_hint: str  # what a user runs to get the wheel

    def locate(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailable(f"The model package {self.package} is not installed: {self.install_hint}.")
        path = Path(next(iter(spec.submodule_search_locations))) / self.relative_path
        if not path.is_file():
            raise ModelUnavailable(f"{path} is missing from the {self.package} package: {self.install_hint}.")
        digest = file_sha256(path)
        if digest != self.sha256:
            raise ModelUnavailable(
                f"{path} is not the expected file (SHA-256 {digest[:16]}…, expected {self.sha256[:16]}…); "
                f"reinstall it: {self.install_hint}."
            )
        return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _attribute(node: NodeProto, name: str, default: int) -> int:
    for attribute in node.attribute:
        if attribute.name == name:
            return int(attribute.i)
    return default


def _dequantize(node: NodeProto, constants: dict[str, TensorProto]) -> np.ndarray:
    from onnx import numpy_helper

    values = numpy_helper.to_array(constants[node.input[0]]).astype(np.float32)
    scale = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
    has_zero = len(node.input) > 2 and node.input[2]
    zero = numpy_helper.to_array(constants[node.input[2]]).astype(np.float32) if has_zero else np.zeros_like(scale)
    if scale.size == 1:  # per tensor (also where a block size is given with a single scale)
        result: np.ndarray = (values - zero.reshape(())) * scale.reshape(())
        return result
    axis = _attribute(node, "axis", 1) % values.ndim
    block = _attribute(node, "block_size", 0)
    if block:  # blocked: each scale covers `block` consecutive entries along the axis
        length = values.shape[axis]
        scale = np.repeat(scale, block, axis=axis).take(range(length), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(length), axis=axis)
        blocked: np.ndarray = (values - zero) * scale
        return blocked
    shape = [1] * values.ndim
    shape[axis] = -1
    per_axis: np.ndarray = (values - zero.reshape(shape)) * scale.reshape(shape)
    return per_axis


def dequantized(model: ModelProto, dynamic_inputs: dict[str, dict[int, str]]) -> ModelProto:
    """``model`` with every constant DequantizeLinear folded, unused inputs dropped, some dimensions made free."""
    from onnx import numpy_helper

    graph = model.graph
    constants = {tensor.name: tensor for tensor in graph.initializer}
    kept_nodes = []
    folded = {}
    for node in graph.node:
        inputs = [name for name in node.input if name]
        if node.op_type == "DequantizeLinear" and all(name in constants for name in inputs):
            folded[node.output[0]] = numpy_helper.from_array(_dequantize(node, constants), node.output[0])
        else:
            kept_nodes.append(node)
    used = {name for node in kept_nodes for name in node.input} | {output.name for output in graph.output}
    initializers = [t for t in graph.initializer if t.name in used and t.name not in folded]
    initializers += [tensor for name, tensor in folded.items() if name in used]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    inputs = [value for value in graph.input if value.name in used]
    del graph.input[:]
    graph.input.extend(inputs)
    del graph.value_info[:]  # shapes inferred for the fixed input size would be wrong for others
    for value in graph.input:
        for axis, label in dynamic_inputs.get(value.name, {}).items():
            value.type.tensor_type.shape.dim[axis].dim_param = label
    if dynamic_inputs:
        for value in graph.output:  # their sizes follow the input's
            for index, dim in enumerate(value.type.tensor_type.shape.dim):
                if index:
                    dim.dim_param = f"{value.name}_{index}"
    return model


def save_atomically(model: ModelProto, target: Path) -> None:
    """Write ``model`` to ``target`` through a temporary file: a crash never leaves half a model."""
    import onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(descriptor)
    try:
        onnx.save(model, partial)
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)


def runnable_copy(source: Path, cache_dir: Path, name: str, dynamic_inputs: dict[str, dict[int, str]]) -> Path:
    """The float32 copy of ``source`` in ``cache_dir``, converted once."""
    target = cache_dir / f"{name}_{file_sha256(source)[:16]}_fp32.onnx"
    if target.is_file():
        return target
    import onnx

    model = dequantized(onnx.load(str(source)), dynamic_inputs)
    onnx.checker.check_model(model)
    save_atomically(model, target)
    return target
