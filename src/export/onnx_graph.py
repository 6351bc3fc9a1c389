"""The inference network as an ONNX graph of standard operators, built from the loaded network.

Why by hand: MindSpore's own ONNX export misplaces DS2's asymmetric conv padding, and a traced
graph would fix batch and time. Here each layer of ``src/model/deepspeech2.py`` becomes the ONNX
operator that computes the same thing, with the network's weights and the geometry of
``src/model/geometry.py``, so every checkpoint that loads exports (opset 17, IR 8)::

    spectrogram [B, 1, 161, T] float32, lengths [B] int32
    -> Conv 41x11 /2x2 -> BatchNormalization -> act -> * mask          act: Tanh, Clip(0, 20) or Relu
    -> Conv 21x11 /2x1 -> BatchNormalization -> act -> * mask          [B, 32, 41, T']
    -> Reshape, Transpose                                              [T', B, 1312]
    -> per layer: [BatchNormalization -> * mask ->] LSTM(bidirectional, sequence_lens)
       -> sum of the two directions -> * mask                          [T', B, H]
    -> MatMul (no bias) -> Softmax -> Transpose                        probabilities [B, T', 29]
    output_lengths: each conv's exact integer formula                  [B] int32

Batch and time are dynamic. As in the network, frames past an utterance's length are zeroed
after every block, and ``sequence_lens`` starts the LSTM's backward direction at each
utterance's real end, so padding does not change an utterance's output.
"""
import math
from typing import Callable, List, Mapping, Sequence, Union

import numpy as np
import onnx
from mindspore import nn
from onnx import TensorProto, helper, numpy_helper

from src.common.files import atomic_path
from src.export import ONNX_INPUTS, ONNX_OUTPUTS
from src.model.deepspeech2 import DeepSpeechModel, PredictWithSoftmax
from src.model.geometry import CONV_LAYERS, DEFAULT_FREQ_BINS, FREQ, TIME, ConvSpec, rnn_input_size

OPSET = 17
IR_VERSION = 8  # opset 17's IR version, so that runtimes older than the onnx package load the file

# ONNX orders an LSTM's gates (i, o, f, c), MindSpore (as PyTorch) (i, f, g, o): ONNX gate k is
# MindSpore's block _ONNX_GATE_ORDER[k].
_ONNX_GATE_ORDER = (0, 3, 1, 2)


class _Graph:
    """Nodes and initializers under generated names, so the network reads as a chain of calls."""

    def __init__(self):
        self.nodes: List[onnx.NodeProto] = []
        self.initializers: List[onnx.TensorProto] = []

    def const(self, name: str, value) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def ints(self, name: str, *values: int) -> str:
        return self.const(name, np.array(values, np.int64))

    def op(self, op_type: str, inputs: Sequence[str], name: str = "", **attrs) -> str:
        """Append a node with one output, named ``name`` (a graph output) or generated."""
        index = len(self.nodes)
        out = name or f"{op_type.lower()}_{index}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"{op_type}_{index}", **attrs))
        return out


def _array(param) -> np.ndarray:
    return np.ascontiguousarray(param.asnumpy(), dtype=np.float32)


def _activation(g: _Graph, cell: nn.Cell) -> Callable[[str], str]:
    if isinstance(cell, nn.Tanh):
        return lambda x: g.op("Tanh", [x])
    if isinstance(cell, nn.ReLU):
        return lambda x: g.op("Relu", [x])
    if isinstance(cell, nn.Hardtanh):
        low = g.const("hardtanh_min", np.float32(cell.min_val))
        high = g.const("hardtanh_max", np.float32(cell.max_val))
        return lambda x: g.op("Clip", [x, low, high])
    raise ValueError(f"no ONNX operator for the activation {type(cell).__name__}")


def _batch_norm(g: _Graph, x: str, cell: nn.Cell) -> str:
    """Inference-mode batch norm (moving statistics) over axis 1, under the checkpoint's names."""
    stats = [g.const(p.name, _array(p)) for p in (cell.gamma, cell.beta, cell.moving_mean, cell.moving_variance)]
    return g.op("BatchNormalization", [x] + stats, epsilon=float(cell.eps))


def _conv(g: _Graph, x: str, spec: ConvSpec, cell: nn.Cell) -> str:
    """``nn.Conv2d``, ``BandedConv2d`` or ``DFTConv2d`` (the same map); ONNX pads are (top, left, bottom, right)."""
    pads = [spec.padding[FREQ], spec.padding[TIME]] * 2
    return g.op("Conv", [x, g.const(cell.weight.name, _array(cell.weight))], kernel_shape=list(spec.kernel),
                strides=list(spec.stride), pads=pads)


def _out_frames(g: _Graph, frames: str, spec: ConvSpec, index: int) -> str:
    """``spec.out_size(frames, TIME)``, floor((L + 2p - k) / s) + 1, in int64. ONNX's integer Div
    truncates, so the numerator is first lifted by ``lift`` strides to be >= 0 for every L >= 0."""
    pad, kernel, stride = spec.padding[TIME], spec.kernel[TIME], spec.stride[TIME]
    lift = math.ceil(kernel / stride)
    shifted = g.op("Add", [frames, g.ints(f"conv{index}_shift", 2 * pad - kernel + lift * stride)])
    quotient = g.op("Div", [shifted, g.ints(f"conv{index}_stride", stride)])
    return g.op("Add", [quotient, g.ints(f"conv{index}_unlift", 1 - lift)])


def _lstm_weights(g: _Graph, lstm: nn.Cell) -> List[str]:
    """ONNX's W [2, 4H, F], R [2, 4H, H] and B [2, 8H] from a BiLSTM's forward and ``_reverse``
    parameters (gates reordered; B holds the input and the recurrent bias, as MindSpore's)."""
    hidden = lstm.hidden_size

    def gates(param) -> np.ndarray:
        blocks = _array(param).reshape((4, hidden) + tuple(param.shape[1:]))
        return np.concatenate([blocks[k] for k in _ONNX_GATE_ORDER])

    w, r, b = [], [], []
    for suffix in ("", "_reverse"):
        w.append(gates(getattr(lstm, "weight_ih_l0" + suffix)))
        r.append(gates(getattr(lstm, "weight_hh_l0" + suffix)))
        b.append(np.concatenate([gates(getattr(lstm, "bias_ih_l0" + suffix)),
                                 gates(getattr(lstm, "bias_hh_l0" + suffix))]))
    prefix = lstm.weight_ih_l0.name[: -len(".weight_ih_l0")]  # RNN.lstms.<i>
    return [g.const(f"{prefix}.{name}", np.stack(parts)) for name, parts in (("W", w), ("R", r), ("B", b))]


def _time_mask(g: _Graph, x: str, frames: str, tag: str) -> str:
    """[B, T'] float, 1 where t < frames, for x [B, C, F, T']."""
    steps = g.op("Range", [g.ints(f"zero_{tag}", 0), g.op("Squeeze", [g.op("Shape", [x], start=3, end=4)]),
                           g.ints(f"one_{tag}", 1)])
    less = g.op("Less", [g.op("Unsqueeze", [steps, g.ints(f"axis0_{tag}", 0)]),
                         g.op("Unsqueeze", [frames, g.ints(f"axis1_{tag}", 1)])])
    return g.op("Cast", [less], to=TensorProto.FLOAT)


def _network_graph(net: DeepSpeechModel) -> _Graph:
    g = _Graph()
    x, frames = ONNX_INPUTS[0], g.op("Cast", [ONNX_INPUTS[1]], to=TensorProto.INT64)
    act = _activation(g, net.conv.act)
    blocks = ((net.conv.conv1, net.conv.bn1), (net.conv.conv2, net.conv.bn2))
    for index, (spec, (conv, bn)) in enumerate(zip(CONV_LAYERS, blocks), start=1):
        x = act(_batch_norm(g, _conv(g, x, spec, conv), bn))                       # [B, C, F', T']
        frames = _out_frames(g, frames, spec, index)                               # [B]
        valid = _time_mask(g, x, frames, f"conv{index}")                           # [B, T']
        x = g.op("Mul", [x, g.op("Unsqueeze", [valid, g.ints(f"axes12_{index}", 1, 2)])])
    seq_lens = g.op("Cast", [frames], name=ONNX_OUTPUTS[1], to=TensorProto.INT32)
    x = g.op("Reshape", [x, g.ints("frame_shape", 0, net.RNN.lstms[0].input_size, -1)])
    x = g.op("Transpose", [x], perm=[2, 0, 1])                                     # [T', B, 32 * 41]

    # the last conv's mask, time-major: [T', B, 1]
    rnn_mask = g.op("Unsqueeze", [g.op("Transpose", [valid], perm=[1, 0]), g.ints("axis2", 2)])
    for i, lstm in enumerate(net.RNN.lstms):
        if net.RNN.batch_norm and i > 0:
            rows = g.op("Reshape", [x, g.ints(f"rows_{i}", -1, lstm.input_size)])   # [T' * B, H]
            normed = _batch_norm(g, rows, net.RNN.norms[i - 1].module)
            x = g.op("Mul", [g.op("Reshape", [normed, g.op("Shape", [x])]), rnn_mask])
        # ONNX Runtime leaves zeros in Y past sequence_lens; the mask keeps padding zero on any runtime
        y = g.op("LSTM", [x] + _lstm_weights(g, lstm) + [seq_lens], hidden_size=lstm.hidden_size,
                 direction="bidirectional")                                         # [T', 2, B, H]
        x = g.op("Mul", [g.op("ReduceSum", [y, g.ints(f"directions_{i}", 1)], keepdims=0), rnn_mask])

    fc = net.fc.module.weight
    logits = g.op("MatMul", [x, g.const(fc.name, _array(fc).T.copy())])             # [T', B, C]
    g.op("Transpose", [g.op("Softmax", [logits], axis=-1)], name=ONNX_OUTPUTS[0], perm=[1, 0, 2])
    return g


def build_onnx_model(network: Union[DeepSpeechModel, PredictWithSoftmax],
                     n_bins: int = DEFAULT_FREQ_BINS) -> onnx.ModelProto:
    """The ONNX model of ``network``'s inference (``PredictWithSoftmax``): same inputs, same outputs.

    ``n_bins`` is the features' frequency bins (``SpectParams.n_bins``), which the network's
    first LSTM size implies; a mismatch is an error.
    """
    net = network.network if isinstance(network, PredictWithSoftmax) else network
    if rnn_input_size(n_bins) != net.RNN.lstms[0].input_size:
        raise ValueError(f"the network's first LSTM takes {net.RNN.lstms[0].input_size} features per frame, "
                         f"{n_bins} frequency bins give {rnn_input_size(n_bins)}")
    g = _network_graph(net)
    num_classes = int(net.fc.module.weight.shape[0])
    inputs = [helper.make_tensor_value_info(ONNX_INPUTS[0], TensorProto.FLOAT, ["batch", 1, n_bins, "frames"]),
              helper.make_tensor_value_info(ONNX_INPUTS[1], TensorProto.INT32, ["batch"])]
    outputs = [helper.make_tensor_value_info(ONNX_OUTPUTS[0], TensorProto.FLOAT, ["batch", "out_frames", num_classes]),
               helper.make_tensor_value_info(ONNX_OUTPUTS[1], TensorProto.INT32, ["batch"])]
    graph = helper.make_graph(g.nodes, "deepspeech2", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="deepspeech2-mindspore", doc_string=__doc__.splitlines()[0])
    onnx.checker.check_model(model, full_check=True)
    return model


def record_features(model: onnx.ModelProto, meta: Mapping[str, object]) -> onnx.ModelProto:
    """Write the features a network was trained on (``feature_meta``) into the model's metadata, as a
    checkpoint records them, so that ONNX Runtime users (and transcribe.py --onnx) can check theirs.
    Quantisation keeps them."""
    if meta:
        onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props},
                                            **{key: str(value) for key, value in meta.items()}})
    return model


def save_onnx(model: onnx.ModelProto, path: str) -> str:
    """Write ``model`` to ``path`` atomically: an interrupted export leaves no partial model."""
    with atomic_path(path) as tmp:
        onnx.save_model(model, tmp)
    return path
