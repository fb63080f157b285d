"""Our own converter of dlib's face ResNet (``dlib_face_recognition_resnet_model_v1.dat``) to ONNX.

dlib writes a network recursively, the input layer's details first: each
layer's details start with its type name (``con_4``, ``affine_``, ``relu_``,
``max_pool_2``, ``avg_pool_2``, ``add_prev_``, ``fc_2``,
``input_rgb_image_sized``), followed by its settings and its parameters as a
tensor of little-endian float32.  Integers use dlib's variable-length
encoding (a byte with the length and the sign, then little-endian bytes);
floats a mantissa and an exponent.  The reader below finds the details of
each layer in that order and checks them against the network dlib's model
was trained as (a ResNet-34 variant: a 7 x 7 stem, 14 residual blocks of
32, 64, 128 and 256 filters, global average pooling, a 256 x 128 projection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hailo_face_server.runtimes.onnx_models import file_sha256, save_atomically

if TYPE_CHECKING:
    from onnx import ModelProto

CHIP_SIZE = 150
DESCRIPTOR_DIM = 128
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
OPSET = 17
_LAYER_NAMES = ("input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2")
_LAYER_PATTERN = re.compile(b"|".join(re.escape(name.encode()) for name in _LAYER_NAMES))


class ConversionError(Exception):
    """The file is not the dlib face ResNet this converter knows."""


class _Reader:
    def __init__(self, data: bytes, position: int) -> None:
        self.data = data
        self.position = position

    def integer(self) -> int:
        head = self.data[self.position]
        size = head & 0x0F
        value = int.from_bytes(self.data[self.position + 1 : self.position + 1 + size], "little")
        self.position += 1 + size
        return -value if head & 0x80 else value

    def text(self) -> str:
        size = self.integer()
        value = self.data[self.position : self.position + size]
        self.position += size
        return value.decode("ascii")

    def real(self) -> float:
        mantissa = self.integer()
        exponent = self.integer()
        return float(mantissa * 2.0**exponent)

    def tensor(self) -> np.ndarray:
        self.integer()  # version
        shape = [self.integer() for _ in range(4)]
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.position)
        self.position += 4 * count
        return values.astype(np.float32)

    def alias_shape(self) -> tuple[int, ...]:
        self.integer()  # version
        return tuple(self.integer() for _ in range(4))


@dataclass
class Conv:
    weights: np.ndarray  # filters x channels x rows x columns
    bias: np.ndarray
    stride: int
    padding: int


@dataclass
class Affine:
    gamma: np.ndarray
    beta: np.ndarray


@dataclass
class Block:
    conv1: Conv
    affine1: Affine
    conv2: Conv
    affine2: Affine
    downsample: bool  # the shortcut is a 2 x 2 average pool, padded with zero channels


@dataclass
class DlibResnet:
    channel_means: tuple[float, float, float]
    stem: Conv
    stem_affine: Affine
    blocks: list[Block] = field(default_factory=list)
    projection: np.ndarray = field(default_factory=lambda: np.zeros((256, DESCRIPTOR_DIM), np.float32))


def _layers(data: bytes) -> list[tuple[str, _Reader]]:
    found = []
    for match in _LAYER_PATTERN.finditer(data):
        start = match.start()
        name = match.group(0)
        # A name is a dlib string: a one-byte length header, the length, the characters.
        if start >= 2 and data[start - 2] == 1 and data[start - 1] == len(name):
            found.append((name.decode(), _Reader(data, match.end())))
    return found


def _conv(reader: _Reader) -> Conv:
    params = reader.tensor()
    filters, rows, columns, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
    weight_shape = reader.alias_shape()
    if (stride_y, pad_y) != (stride_x, pad_x) or rows != columns:
        raise ConversionError("only square convolutions are expected")
    weights_size = int(np.prod(weight_shape))
    return Conv(
        weights=params[:weights_size].reshape(weight_shape),
        bias=params[weights_size : weights_size + filters],
        stride=stride_y,
        padding=pad_y,
    )


def _affine(reader: _Reader) -> Affine:
    params = reader.tensor()
    channels = len(params) // 2
    return Affine(gamma=params[:channels], beta=params[channels:])


def read_dlib_resnet(path: Path) -> DlibResnet:
    data = path.read_bytes()
    layers = _layers(data)
    names = [name for name, _ in layers]
    stem_names = ["input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2"]
    if names[:5] != stem_names or names[-2:] != ["avg_pool_2", "fc_2"]:
        raise ConversionError(f"{path} does not have the layers of dlib's face ResNet")
    means_reader = layers[0][1]
    means = (means_reader.real(), means_reader.real(), means_reader.real())
    if (means_reader.integer(), means_reader.integer()) != (CHIP_SIZE, CHIP_SIZE):
        raise ConversionError("the network does not take 150 x 150 chips")
    net = DlibResnet(channel_means=means, stem=_conv(layers[1][1]), stem_affine=_affine(layers[2][1]))
    index = 5
    while names[index] == "con_4":
        plain = ["con_4", "affine_", "relu_", "con_4", "affine_", "add_prev_", "relu_"]
        down = ["con_4", "affine_", "relu_", "con_4", "affine_", "avg_pool_2", "add_prev_", "relu_"]
        downsample = names[index : index + len(down)] == down
        if not downsample and names[index : index + len(plain)] != plain:
            raise ConversionError(f"unexpected layers at {index}: {names[index : index + 8]}")
        block = layers[index : index + (len(down) if downsample else len(plain))]
        net.blocks.append(
            Block(
                conv1=_conv(block[0][1]),
                affine1=_affine(block[1][1]),
                conv2=_conv(block[3][1]),
                affine2=_affine(block[4][1]),
                downsample=downsample,
            )
        )
        index += len(block)
    fc = layers[-1][1]
    outputs, inputs = fc.integer(), fc.integer()
    net.projection = fc.tensor()[: inputs * outputs].reshape(inputs, outputs)
    if len(net.blocks) != 14 or net.projection.shape != (256, DESCRIPTOR_DIM):
        raise ConversionError("the network is not dlib's face ResNet (14 blocks, 256 x 128 projection)")
    return net


class _Graph:
    """Collects ONNX nodes and initializers, naming values as it goes."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[object] = []
        self.initializers: list[object] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def constant(self, values: np.ndarray, prefix: str) -> str:
        name = self.name(prefix)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(values), name))
        return name

    def node(self, op: str, inputs: list[str], prefix: str, **attributes: Any) -> str:
        output = self.name(prefix)
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attributes))
        return output

    def conv(self, x: str, conv: Conv) -> str:
        weights = self.constant(conv.weights, "w")
        bias = self.constant(conv.bias, "b")
        size = conv.weights.shape[2]
        return self.node(
            "Conv", [x, weights, bias], "conv", kernel_shape=[size, size], strides=[conv.stride] * 2,
            pads=[conv.padding] * 4,
        )  # fmt: skip

    def affine(self, x: str, affine: Affine) -> str:
        scaled = self.node("Mul", [x, self.constant(affine.gamma.reshape(1, -1, 1, 1), "gamma")], "scaled")
        return self.node("Add", [scaled, self.constant(affine.beta.reshape(1, -1, 1, 1), "beta")], "affine")

    def pad_to(self, x: str, channels: int, extra_rows: int) -> str:
        """Zeros after the last channel and below and right of the image (dlib's add_prev)."""
        pads = np.array([0, 0, 0, 0, 0, channels, extra_rows, extra_rows], np.int64)
        return self.node("Pad", [x, self.constant(pads, "pads")], "padded")


def _spatial(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def build_onnx(net: DlibResnet) -> ModelProto:
    """The network as an ONNX model: N x 150 x 150 x 3 uint8 chips in, N x 128 float32 descriptors out."""
    from onnx import TensorProto

    graph = _Graph()
    helper = graph.helper
    pixels = graph.node("Cast", [INPUT_NAME], "float", to=TensorProto.FLOAT)
    planar = graph.node("Transpose", [pixels], "planar", perm=[0, 3, 1, 2])
    means = graph.constant(np.array(net.channel_means, np.float32).reshape(1, 3, 1, 1), "mean")
    centred = graph.node("Sub", [planar, means], "centred")
    x = graph.node("Div", [centred, graph.constant(np.array(256.0, np.float32), "scale")], "input")
    size = _spatial(CHIP_SIZE, net.stem.weights.shape[2], net.stem.stride, net.stem.padding)
    x = graph.node("Relu", [graph.affine(graph.conv(x, net.stem), net.stem_affine)], "relu")
    x = graph.node("MaxPool", [x], "pool", kernel_shape=[3, 3], strides=[2, 2])
    size = _spatial(size, 3, 2, 0)
    channels = net.stem.weights.shape[0]
    for block in net.blocks:
        main = graph.node("Relu", [graph.affine(graph.conv(x, block.conv1), block.affine1)], "relu")
        main = graph.affine(graph.conv(main, block.conv2), block.affine2)
        out_channels = block.conv2.weights.shape[0]
        if block.downsample:
            first, second = block.conv1, block.conv2
            main_size = _spatial(size, first.weights.shape[2], first.stride, first.padding)
            main_size = _spatial(main_size, second.weights.shape[2], second.stride, second.padding)
            shortcut = graph.node("AveragePool", [x], "shortcut", kernel_shape=[2, 2], strides=[2, 2])
            shortcut_size = _spatial(size, 2, 2, 0)
            size = max(main_size, shortcut_size)
            main = graph.pad_to(main, 0, size - main_size) if size > main_size else main
            extra = out_channels - channels
            if extra or size > shortcut_size:
                shortcut = graph.pad_to(shortcut, extra, size - shortcut_size)
        else:
            shortcut = x
        x = graph.node("Relu", [graph.node("Add", [main, shortcut], "sum")], "relu")
        channels = out_channels
    pooled = graph.node("GlobalAveragePool", [x], "global")
    flat = graph.node("Flatten", [pooled], "flat")
    descriptors = graph.node("MatMul", [flat, graph.constant(net.projection, "projection")], "matmul")
    graph.nodes.append(helper.make_node("Identity", [descriptors], [OUTPUT_NAME]))
    model: ModelProto = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "dlib_face_recognition_resnet_model_v1",
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["n", CHIP_SIZE, CHIP_SIZE, 3])],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n", DESCRIPTOR_DIM])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="hailo-face dlib_onnx",
    )
    model.ir_version = 8
    return model


def converted_model(source: Path, cache_dir: Path) -> Path:
    """The ONNX file for ``source``, converting it once into ``cache_dir`` (named by the source's hash)."""
    target = cache_dir / f"dlib_face_resnet_{file_sha256(source)[:16]}.onnx"
    if not target.is_file():
        save_atomically(build_onnx(read_dlib_resnet(source)), target)
    return target
