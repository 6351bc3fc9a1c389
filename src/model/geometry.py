"""The network's geometry, stated once: the conv layers' kernel, stride and padding, and what follows.

The network (src/model/deepspeech2.py) builds its conv layers from ``CONV_LAYERS``; everything
else that needs a number the layers imply asks this module instead of restating it: the data's
"enough output frames for the labels" check, the export's input shape, word timestamps. No
MindSpore here, so the data package can use it.

With the zoo's features (20 ms windows at 16 kHz: 161 frequency bins) and 29 labels::

    conv1  kernel 41x11, stride 2x2, padding 20/5:  161 bins -> 81,  T frames -> (T - 1) // 2 + 1
    conv2  kernel 21x11, stride 2x1, padding 10/5:   81 bins -> 41,  time kept
    RNN input 32 channels x 41 bins = 1312 per frame; output layer 29 classes; time stride 2

Sizes are (frequency, time), as the spectrogram (N, 1, bins, frames) is laid out.
"""
import math
from dataclasses import dataclass
from typing import Sequence, Tuple

FREQ, TIME = 0, 1  # axes of the (frequency, time) pairs below


@dataclass(frozen=True)
class ConvSpec:
    """One 2-D convolution over (frequency, time) with symmetric zero padding, no bias."""

    in_channels: int
    out_channels: int
    kernel: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]

    def out_size(self, size, axis: int):
        """Output size along ``axis`` for input ``size`` (an int, NumPy array or MindSpore tensor):
        the convolution's exact integer formula floor((size + 2 * pad - kernel) / stride) + 1."""
        return (size + 2 * self.padding[axis] - self.kernel[axis]) // self.stride[axis] + 1

    @property
    def pad_4(self) -> Tuple[int, int, int, int]:
        """(top, bottom, left, right), as ``nn.Conv2d(pad_mode="pad")`` takes it."""
        return (self.padding[FREQ], self.padding[FREQ], self.padding[TIME], self.padding[TIME])

    @property
    def init_std(self) -> float:
        """He initialisation over the fan-out, as the zoo initialises its conv weights."""
        return math.sqrt(2.0 / (self.kernel[FREQ] * self.kernel[TIME] * self.out_channels))


CONV_LAYERS = (
    ConvSpec(1, 32, kernel=(41, 11), stride=(2, 2), padding=(20, 5)),
    ConvSpec(32, 32, kernel=(21, 11), stride=(2, 1), padding=(10, 5)),
)

# Output frame j covers input frames TIME_STRIDE * j ... (2 for the zoo's network).
TIME_STRIDE = math.prod(spec.stride[TIME] for spec in CONV_LAYERS)

# The network's default input: the zoo's SpectConfig (20 ms windows at 16 kHz) has a 320-point FFT.
# Code that has the feature settings uses SpectParams.n_bins, which is freq_bins(n_fft) too.
DEFAULT_N_FFT = 320


def freq_bins(n_fft: int) -> int:
    """Frequency bins of a real FFT of ``n_fft`` points: n_fft // 2 + 1."""
    return n_fft // 2 + 1


DEFAULT_FREQ_BINS = freq_bins(DEFAULT_N_FFT)


def output_frames(frames):
    """Output frames for ``frames`` input frames (int, NumPy array or MindSpore tensor), exactly as
    the network computes its output lengths."""
    for spec in CONV_LAYERS:
        frames = spec.out_size(frames, TIME)
    return frames


def conv_output_bins(n_bins: int = DEFAULT_FREQ_BINS) -> int:
    """Frequency bins left after the conv layers (161 -> 81 -> 41)."""
    for spec in CONV_LAYERS:
        n_bins = spec.out_size(n_bins, FREQ)
    return n_bins


def rnn_input_size(n_bins: int = DEFAULT_FREQ_BINS) -> int:
    """Features per frame entering the first LSTM: the last conv's channels x its frequency bins."""
    return CONV_LAYERS[-1].out_channels * conv_output_bins(n_bins)


def num_classes(labels: Sequence) -> int:
    """Output classes: one per label, the blank included (``labels`` is a Labels or its symbols)."""
    return len(labels)
