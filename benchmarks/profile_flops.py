"""FLOPs of each part of one DeepSpeech2 training step, counted from the layer shapes.

One multiply-add is 2 FLOPs. Only MatMul and convolution work is counted: batch norm,
activations, masks, the CTC recursion and the optimiser are elementwise and memory-bound, so a
MatMul roofline says nothing about them (their times are still measured, see profile_step.py).

Backward rule for a product A @ B: each operand whose gradient is needed costs one more product
of the same size, so forward + backward is 2x forward (only the weight's gradient: the first
conv, whose input is the spectrogram) or 3x (the weight's and the input's: every later layer).
Constant operands (the DFT conv's cos/sin tables) need no gradient.

Counted over the padded width the graph really runs (the fused LSTM kernels and the convs see
every padded frame). No MindSpore here: the unit test runs without it.
"""
import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

from src.model.geometry import CONV_LAYERS, DEFAULT_FREQ_BINS, FREQ, TIME, ConvSpec, rnn_input_size

# conv forms with a formula here (any other form is counted as direct): nn.Conv2d, a one-input-channel
# conv as one banded MatMul (src/model/banded_conv.py), a conv through the DFT (src/model/dft_conv.py)
DIRECT, BANDED, DFT = "direct", "banded", "dft"


@dataclass(frozen=True)
class Flops:
    """FLOPs of a forward pass and of the backward pass that follows it."""
    forward: float
    backward: float

    @property
    def train(self) -> float:
        """Forward + backward: what one training step spends on this part."""
        return self.forward + self.backward

    def __add__(self, other: "Flops") -> "Flops":
        return Flops(self.forward + other.forward, self.backward + other.backward)

    def __mul__(self, factor: float) -> "Flops":
        return Flops(self.forward * factor, self.backward * factor)


NONE = Flops(0.0, 0.0)


def total(items: Iterable[Flops]) -> Flops:
    return sum(items, start=NONE)


def matmul(m: int, k: int, n: int, grads: int, batch: int = 1) -> Flops:
    """``batch`` products (m, k) @ (k, n); ``grads`` = how many of the two operands need a gradient."""
    forward = 2.0 * batch * m * k * n
    return Flops(forward, grads * forward)


def direct_conv(spec: ConvSpec, batch: int, freq: int, frames: int, input_grad: bool) -> Flops:
    """A direct (or im2col) convolution: one (out positions, in x kernel) @ (in x kernel, out) product."""
    positions = batch * spec.out_size(freq, FREQ) * spec.out_size(frames, TIME)
    taps = spec.in_channels * spec.kernel[FREQ] * spec.kernel[TIME]
    return matmul(positions, taps, spec.out_channels, grads=2 if input_grad else 1)


def banded_conv(spec: ConvSpec, batch: int, freq: int, frames: int, input_grad: bool, rows_per_block: int) -> Flops:
    """The MatMuls of BandedConv2d: blocks of ``rows_per_block`` output rows, each reading
    stride * (B - 1) + kernel input rows, against one band matrix built from the weight."""
    o, (kf, kt), sf = spec.out_channels, spec.kernel, spec.stride[FREQ]
    fo, to = spec.out_size(freq, FREQ), spec.out_size(frames, TIME)
    rows = sf * (rows_per_block - 1) + kf
    blocks = math.ceil(fo / rows_per_block)
    return (matmul(o * kt, kf, rows_per_block * rows, 1)                                  # the band matrix
            + matmul(rows_per_block * o, kt * rows, blocks * batch * to, 2 if input_grad else 1))


def dft_conv(spec: ConvSpec, batch: int, freq: int, frames: int, input_grad: bool, time_block: int) -> Flops:
    """The MatMuls of ``src/model/dft_conv.py``'s DFTConv2d (overlap-save over time, full DFT over frequency).

    Its tables are constants; the data side needs a gradient only before the channel mix when the
    input's gradient is wanted, and always after it (the weight's gradient flows through it).
    """
    n, c, o = batch, spec.in_channels, spec.out_channels
    kf, kt = spec.kernel
    sf, st = spec.stride
    fp = freq + 2 * spec.padding[FREQ]          # DFT length over frequency
    fo = (fp - kf) // sf + 1
    to = spec.out_size(frames, TIME)
    span = st * (time_block - 1) + kt            # DFT length over time (one block's input frames)
    nk = span // 2 + 1                           # half spectrum of a real block
    nb = math.ceil(to / time_block)              # time blocks
    data = 1 if input_grad else 0
    return (matmul(2 * nk, span, freq * n * c, data, batch=nb)            # DFT over each block's frames
            + matmul(2 * fp, 2 * freq, n * c, data, batch=nb * nk)         # DFT over frequency
            + matmul(nb * n, 2 * c, 2 * o, 1 + data, batch=nk * fp)        # channel mix per bin
            + matmul(2 * fo, 2 * fp, n * o, 1, batch=nb * nk)              # inverse DFT over frequency
            + matmul(time_block, 2 * nk, fo * n * o, 1, batch=nb)          # inverse DFT over time
            + matmul(o * c * kf, kt, 2 * nk, 1)                            # kernel spectrum: time
            + matmul(2 * fp, 2 * kf, c * o, 1, batch=nk))                  # kernel spectrum: frequency (re, im)


def conv(spec: ConvSpec, batch: int, freq: int, frames: int, input_grad: bool, form: str,
         block: int = 0) -> Optional[Flops]:
    """FLOPs of ``spec`` computed in ``form`` (``block``: the banded form's rows per block, the DFT
    form's output frames per time block); None for a form without a formula here."""
    if form == DIRECT:
        return direct_conv(spec, batch, freq, frames, input_grad)
    if form == BANDED:
        return banded_conv(spec, batch, freq, frames, input_grad, block)
    if form == DFT:
        return dft_conv(spec, batch, freq, frames, input_grad, block)
    return None


def bilstm(batch: int, frames: int, input_size: int, hidden: int) -> Flops:
    """Both directions' gate MatMuls, 2*T*N*4H*(I+H) forward per direction; weights' and input's gradients."""
    one_direction = matmul(frames * batch, input_size + hidden, 4 * hidden, grads=2)
    return one_direction * 2


@dataclass(frozen=True)
class StepShape:
    """What the FLOPs of a training step depend on."""
    batch: int
    frames: int  # padded input width: the frames every layer really runs over
    hidden: int
    layers: int
    classes: int = 29
    n_bins: int = DEFAULT_FREQ_BINS

    @property
    def rnn_frames(self) -> int:
        frames = self.frames
        for spec in CONV_LAYERS:
            frames = spec.out_size(frames, TIME)
        return frames

    def rnn_input_sizes(self) -> List[int]:
        return [rnn_input_size(self.n_bins)] + [self.hidden] * (self.layers - 1)


@dataclass(frozen=True)
class PartFlops:
    ours: Optional[Flops]  # as the network computes it (None: a conv form without a formula)
    direct: Flops  # with direct convolutions (the model's nominal FLOPs)

    @property
    def counted(self) -> Flops:
        """Ours where known, else the direct count (e.g. an im2col MatMul form: the same FLOPs)."""
        return self.ours if self.ours is not None else self.direct


def step_flops(shape: StepShape, conv_forms: List[str], conv_blocks: List[int]) -> Dict[str, PartFlops]:
    """FLOPs per part, keyed as profile_step names them: conv1, conv2, lstm0..., fc, update (none counted)."""
    parts: Dict[str, PartFlops] = {}
    freq, frames = shape.n_bins, shape.frames
    for index, spec in enumerate(CONV_LAYERS):
        input_grad = index > 0  # the first conv's input is the spectrogram
        direct = direct_conv(spec, shape.batch, freq, frames, input_grad)
        ours = conv(spec, shape.batch, freq, frames, input_grad, conv_forms[index], conv_blocks[index])
        parts[f"conv{index + 1}"] = PartFlops(ours, direct)
        freq, frames = spec.out_size(freq, FREQ), spec.out_size(frames, TIME)
    for index, size in enumerate(shape.rnn_input_sizes()):
        lstm = bilstm(shape.batch, frames, size, shape.hidden)
        parts[f"lstm{index}"] = PartFlops(lstm, lstm)
    fc = matmul(frames * shape.batch, shape.hidden, shape.classes, grads=2)
    parts["fc"] = PartFlops(fc, fc)
    parts["update"] = PartFlops(NONE, NONE)
    return parts
