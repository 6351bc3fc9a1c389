"""The DeepSpeech2 network of the MindSpore model zoo, length-correct and fast on CPU.

Architecture (zoo): conv1 -> BN -> act -> conv2 -> BN -> act -> N bidirectional LSTMs whose two
directions are *summed* -> Dense(hidden -> classes, no bias). The conv layers' kernels, strides
and padding, and the sizes they imply (161 bins -> 1312-wide frames, time stride 2), are stated
once in ``src/model/geometry.py``. Parameter names and shapes equal the zoo's
(``conv.conv1.weight``, ``RNN.lstms.<i>.weight_ih_l0[_reverse]``, ``fc.module.weight``, ...) so
its checkpoints load.

What differs from the zoo, on purpose:
- Frames past each utterance's length are zeroed after every conv block (as deepspeech.pytorch
  does), so an utterance's output does not depend on how much padding its batch has.
- Each BiLSTM layer runs two fused one-direction LSTM kernels; the backward one reads the
  utterance reversed *within its length* (``ReverseSequence``), so it starts at the real end
  rather than in the padding. ``nn.LSTM(seq_length=...)`` would do the same but falls back to a
  per-step Python loop that is 10-70x slower.
- Output lengths are exact integers, each conv block's from its own kernel, stride and padding
  (``geometry.output_frames``): conv1 maps L -> (L - 1) // 2 + 1, conv2 keeps L.
- On the CPU no conv runs as a oneDNN convolution (``ModelConfig.conv_impl`` auto): conv1 is one
  banded MatMul (``src/model/banded_conv.py``), conv2 goes through the DFT (``src/model/dft_conv.py``),
  each the same map with the same ``conv.convN.weight``. oneDNN's AVX-512 convolution is its
  reference kernel on MindSpore's CPU backend, so this lets its MatMuls use the full ISA
  (``src/common/cpu_isa.py`` caps it at AVX2 only where a direct Conv2D still runs).
"""
import math


import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Normal, Uniform, initializer

from src.common.cpu_isa import choose_onednn_isa
from src.config.schema import CONV_IMPLS
from src.model.banded_conv import BandedConv2d
from src.model.dft_conv import DFTConv2d
from src.model.geometry import CONV_LAYERS, DEFAULT_FREQ_BINS, TIME, ConvSpec, rnn_input_size
from src.model.permute import BlockSwap



def _activation(name: str) -> nn.Cell:
    if name == "tanh":
        return nn.Tanh()
    if name == "hardtanh":
        return nn.Hardtanh(0.0, 20.0)
    if name == "relu":
        return nn.ReLU()
    raise ValueError(f"ModelConfig.activation {name!r}: choose tanh, hardtanh or relu")


def _time_mask(lengths: Tensor, max_len: int, dtype) -> Tensor:
    """(N, T) mask, 1 where t < length."""
    steps = ops.arange(max_len).astype(lengths.dtype)
    return (steps.expand_dims(0) < lengths.expand_dims(1)).astype(dtype)


def _spread(mask: Tensor, shape) -> Tensor:
    """``mask`` broadcast to ``shape`` up front, so that multiplying by it is element-wise: MindSpore's CPU
    kernel for a broadcasting multiply keeps 8-byte index tables per element and operand for as long as
    its graph lives (src/training/memory_budget.py), ``broadcast_to`` does not. No gradient enters a mask."""
    return ops.stop_gradient(ops.broadcast_to(mask, shape))


def _mask_frames(x: Tensor, lengths: Tensor) -> Tensor:
    """A conv block's output (N, C, F, T) with the frames past each utterance's length zeroed, so that the
    next block and the LSTMs never see what the convs and BatchNorm made of the padding."""
    return x * _spread(_time_mask(lengths, x.shape[3], x.dtype).expand_dims(1).expand_dims(1), x.shape)


def use_matmul_convs(conv_impl: str) -> bool:
    """Whether the convs run as MatMuls (conv1 banded, conv2 through the DFT) rather than ``nn.Conv2d``:
    ``auto`` on the CPU only (cuDNN and Ascend have fast direct kernels), ``dft`` everywhere."""
    conv_impl = conv_impl.lower()
    if conv_impl not in CONV_IMPLS:
        raise ValueError(f"ModelConfig.conv_impl {conv_impl!r}: choose one of {', '.join(CONV_IMPLS)}")
    if conv_impl == "auto":
        return ms.get_context("device_target") == "CPU"
    return conv_impl == "dft"


def _conv(spec: ConvSpec, matmul: bool, auto: bool) -> nn.Cell:
    """The layer ``spec`` describes: ``nn.Conv2d``, or as MatMuls (same weight either way): banded for one
    input channel, through the DFT for more."""
    init = Normal(spec.init_std)
    if not matmul:
        return nn.Conv2d(spec.in_channels, spec.out_channels, kernel_size=spec.kernel, stride=spec.stride,
                         pad_mode="pad", padding=spec.pad_4, has_bias=False, weight_init=init)
    if spec.in_channels == 1:
        return BandedConv2d(1, spec.out_channels, spec.kernel, spec.stride, spec.pad_4, weight_init=init)
    return DFTConv2d(spec.in_channels, spec.out_channels, spec.kernel, spec.stride, spec.pad_4, weight_init=init,
                     direct_when_dynamic=auto)


class MaskConv(nn.Cell):
    """The two-conv front-end: (x, lengths) -> (x, output lengths), zeroing padded frames after each block.

    With ``conv_impl`` auto (CPU) or dft, conv1 (one input channel) is a banded MatMul, 1.4x the direct
    FLOPs; conv2 goes through the DFT, ~1/4 of the direct FLOPs. Under a dynamic time axis the banded
    conv1 stays, and conv2 becomes the direct kernel with ``conv_impl`` auto (memory; ``src/model/shapes.py``).
    """

    def __init__(self, activation: str = "tanh", conv_impl: str = "auto"):
        super().__init__()
        spec1, spec2 = CONV_LAYERS
        self.spec1, self.spec2 = spec1, spec2
        matmul = use_matmul_convs(conv_impl)
        auto = conv_impl.lower() == "auto"
        self.conv1 = _conv(spec1, matmul, auto)
        self.bn1 = nn.BatchNorm2d(num_features=spec1.out_channels)
        self.conv2 = _conv(spec2, matmul, auto)
        self.bn2 = nn.BatchNorm2d(num_features=spec2.out_channels)
        self.act = _activation(activation)
        choose_onednn_isa(direct_conv=not matmul, why="ModelConfig.conv_impl direct")

    def construct(self, x, lengths):
        x = self.act(self.bn1(self.conv1(x)))
        lengths = self.spec1.out_size(lengths, TIME)
        x = _mask_frames(x, lengths)
        x = self.act(self.bn2(self.conv2(x)))
        lengths = self.spec2.out_size(lengths, TIME)
        return _mask_frames(x, lengths), lengths


class BiLSTM(nn.Cell):
    """One bidirectional LSTM layer with summed directions, parameters named as ``nn.LSTM``'s."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        gate = 4 * hidden_size
        init = Uniform(1.0 / math.sqrt(hidden_size))
        for suffix in ("", "_reverse"):
            for name, shape in (("weight_ih_l0", (gate, input_size)), ("weight_hh_l0", (gate, hidden_size)),
                                ("bias_ih_l0", (gate,)), ("bias_hh_l0", (gate,))):
                full = name + suffix
                setattr(self, full, Parameter(initializer(init, shape, ms.float32), name=full))
        self.lstm = ops.LSTM(input_size, hidden_size, 1, True, False, 0.0)
        self.reverse = ops.ReverseSequence(seq_dim=0, batch_dim=1)
        self.split_bias = ms.get_context("device_target") == "GPU"  # cuDNN wants both biases

    def _flat_weights(self, w_ih, w_hh, b_ih, b_hh):
        if self.split_bias:
            parts = (w_ih.view(-1, 1, 1), w_hh.view(-1, 1, 1), b_ih.view(-1, 1, 1), b_hh.view(-1, 1, 1))
        else:
            parts = (w_ih.view(-1, 1, 1), w_hh.view(-1, 1, 1), (b_ih + b_hh).view(-1, 1, 1))
        return ops.concat(parts)

    def construct(self, x, lengths, mask):
        """x: (T, N, F) time-major; lengths: (N,) int32; mask: (T, N, hidden)."""
        zeros = ops.zeros((1, x.shape[1], self.hidden_size), x.dtype)
        w_fw = self._flat_weights(self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
        w_bw = self._flat_weights(self.weight_ih_l0_reverse, self.weight_hh_l0_reverse,
                                  self.bias_ih_l0_reverse, self.bias_hh_l0_reverse)
        fw, _, _, _, _ = self.lstm(x, zeros, zeros, w_fw)
        bw, _, _, _, _ = self.lstm(self.reverse(x, lengths), zeros, zeros, w_bw)
        return (fw + self.reverse(bw, lengths)) * mask


class BatchRNN(nn.Cell):
    """The stack of BiLSTM layers (``RNN.lstms.<i>`` in checkpoints).

    With ``batch_norm`` (off in the zoo, whose GPU lacked BatchNorm1d; on in deepspeech.pytorch
    and the DS2 paper, where it speeds up convergence) the input of every layer after the first is
    batch-normalised frame-wise (``RNN.norms.<i-1>``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, batch_norm: bool = False):
        super().__init__()
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.lstms = nn.CellList([BiLSTM(size, hidden_size) for size in sizes])
        self.batch_norm = batch_norm
        if batch_norm:
            self.norms = nn.CellList([SequenceWise(nn.BatchNorm1d(num_features=hidden_size))
                                      for _ in range(num_layers - 1)])

    def construct(self, x, lengths):
        hidden = self.lstms[0].hidden_size
        mask = _spread(_time_mask(lengths, x.shape[0], x.dtype).T.expand_dims(2), (x.shape[0], x.shape[1], hidden))
        for i, lstm in enumerate(self.lstms):
            if self.batch_norm and i > 0:
                x = self.norms[i - 1](x) * mask
            x = lstm(x, lengths, mask)
        return x


class SequenceWise(nn.Cell):
    """Applies a per-frame module to (T, N, H) by folding time into the batch."""

    def __init__(self, module: nn.Cell):
        super().__init__()
        self.module = module

    def construct(self, x):
        t, n, h = x.shape
        return self.module(x.reshape(t * n, h)).reshape(t, n, -1)


class DeepSpeechModel(nn.Cell):
    """Spectrogram (N, 1, bins, T) + frame lengths (N,) -> logits (T', N, classes) + lengths (N,).

    The defaults are the zoo's network: 161 bins, 29 classes, 5 x BiLSTM-1024.
    """

    def __init__(self, num_classes: int = 29, hidden_size: int = 1024, hidden_layers: int = 5,
                 activation: str = "tanh", n_bins: int = DEFAULT_FREQ_BINS, rnn_batch_norm: bool = False,
                 conv_impl: str = "auto", fc_batch_norm: bool = False):
        super().__init__()
        if hidden_size < 1 or hidden_layers < 1:
            raise ValueError(f"ModelConfig: hidden_size ({hidden_size}) and hidden_layers ({hidden_layers}) must be >= 1")
        self.conv = MaskConv(activation, conv_impl)
        self.RNN = BatchRNN(rnn_input_size(n_bins), hidden_size, hidden_layers, rnn_batch_norm)
        self.fc_batch_norm = fc_batch_norm
        if fc_batch_norm:  # deepspeech.pytorch: BatchNorm1d over each frame's features before the output layer
            self.fc_norm = SequenceWise(nn.BatchNorm1d(num_features=hidden_size))
        self.fc = SequenceWise(nn.Dense(hidden_size, num_classes, has_bias=False,
                                        weight_init=Uniform(1.0 / hidden_size)))
        self.swap = BlockSwap()  # no parameters: checkpoints are unchanged

    def construct(self, x, lengths):
        x, out_lengths = self.conv(x, lengths.astype(ms.int32))
        n, c, f, t = x.shape
        x = self.swap(x.reshape(1, n * c * f, t, 1)).reshape(t, n, c * f)  # time-major, as the LSTMs read it
        x = self.RNN(x, out_lengths)
        if self.fc_batch_norm:
            x = self.fc_norm(x)
        return self.fc(x), out_lengths


def build_model(model_cfg, num_classes: int, n_bins: int = DEFAULT_FREQ_BINS) -> DeepSpeechModel:
    """The network a ModelConfig describes, for ``num_classes`` labels and ``n_bins`` frequency bins."""
    if str(model_cfg.rnn_type).upper() != "LSTM":
        raise ValueError(f"ModelConfig.rnn_type {model_cfg.rnn_type!r}: only LSTM is implemented")
    return DeepSpeechModel(num_classes, int(model_cfg.hidden_size), int(model_cfg.hidden_layers),
                           str(model_cfg.activation), n_bins=n_bins, rnn_batch_norm=bool(model_cfg.rnn_batch_norm),
                           conv_impl=str(model_cfg.conv_impl), fc_batch_norm=bool(model_cfg.fc_batch_norm))


class PredictWithSoftmax(nn.Cell):
    """Inference network (eval and export): batch-major probabilities (N, T', C) + lengths."""

    def __init__(self, network: DeepSpeechModel):
        super().__init__(auto_prefix=False)
        self.network = network
        self.softmax = nn.Softmax(axis=-1)

    def construct(self, x, lengths):
        logits, out_lengths = self.network(x, lengths)
        return self.softmax(logits).transpose(1, 0, 2), out_lengths


class NetWithLoss(nn.Cell):
    """CTC loss (``ops.CTCLoss``: raw logits, blank = last class), a weighted batch mean.

    ``labels`` are (N, L) ids padded with the blank id, which the CTC kernel drops, so every
    batch has the same label shape and the graph is compiled once. ``weights`` is 0 for the
    filler rows that keep the batch size fixed, so they add neither loss nor gradient.
    """

    def __init__(self, network: DeepSpeechModel):
        super().__init__(auto_prefix=False)
        self.network = network
        self.ctc = ops.CTCLoss(ctc_merge_repeated=True, ignore_longer_outputs_than_inputs=True)

    def construct(self, x, lengths, labels, weights):
        logits, out_lengths = self.network(x, lengths)
        n, max_label = labels.shape
        rows = ops.arange(n).astype(ms.int64).expand_dims(1).broadcast_to((n, max_label))
        cols = ops.arange(max_label).astype(ms.int64).expand_dims(0).broadcast_to((n, max_label))
        indices = ops.stack((rows.reshape(-1), cols.reshape(-1)), axis=1)
        loss, _ = self.ctc(logits, indices, labels.reshape(-1).astype(ms.int32), out_lengths)
        return (loss * weights).sum() / ops.maximum(weights.sum(), 1.0)


def count_parameters(net: nn.Cell, trainable_only: bool = True) -> int:
    params = net.trainable_params() if trainable_only else net.get_parameters()
    return int(sum(np.prod(p.shape) for p in params))
