"""Static or dynamic time axis for graph mode.

Graph mode compiles one graph per input shape, and on CPU each compiled shape keeps its own
working memory (measured: ~2.5 GB per shape for the small model at 10-20 s utterances, never
released). Short, uniform data (a handful of padded widths) runs fastest with static shapes;
data with many widths (LibriSpeech's 1-35 s) would run out of memory, so there the time axis is
declared dynamic with ``Cell.set_inputs``: one graph, bounded memory, ~1.5x slower steps.
"""
import math
from typing import Optional, Sequence

import mindspore as ms
from mindspore import Tensor, nn

from src.model.dft_conv import use_direct_conv


def padded_widths(frames: Sequence[int], pad_multiple: int, stretch: float = 1.0) -> int:
    """How many distinct padded widths batches of these lengths can have (an upper bound).

    ``stretch`` widens the range for speed perturbation (frames / speed_min at the top).
    """
    if not frames:
        return 0
    pad = max(int(pad_multiple), 1)
    low = math.ceil(min(frames) / stretch / pad)
    high = math.ceil(max(frames) * stretch / pad)
    return max(high - low + 1, 1)


def declare_dynamic_time(cell: nn.Cell, batch_size: Optional[int], n_bins: int, label_length: int = 0) -> None:
    """Mark the time axis of ``cell``'s inputs (x, lengths[, labels, weights]) as dynamic; with
    ``batch_size`` None the batch axis too (export.py's dynamic MINDIR).

    DFT convolutions need static shapes, so they fall back to the direct kernel in such a graph.
    """
    use_direct_conv(cell)
    inputs = [Tensor(shape=[batch_size, 1, n_bins, None], dtype=ms.float32),
              Tensor(shape=[batch_size], dtype=ms.int32)]
    if label_length:
        inputs += [Tensor(shape=[batch_size, label_length], dtype=ms.int32),
                   Tensor(shape=[batch_size], dtype=ms.float32)]
    cell.set_inputs(*inputs)
