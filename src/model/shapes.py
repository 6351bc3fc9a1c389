"""Static or dynamic time axis for graph mode.

Graph mode compiles one graph per input shape, and on CPU each compiled shape keeps its own
working memory (measured: ~2.5 GB per shape for the small model at 10-20 s utterances, never
released). Short, uniform data (a handful of padded widths) runs fastest with static shapes;
data with many widths (LibriSpeech's 1-35 s) would run out of memory, so there the time axis is
declared dynamic with ``Cell.set_inputs``: one graph, bounded memory, ~1.5x slower steps.
"""
import math
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

import mindspore as ms
from mindspore import Tensor, nn

from src.common.cpu_isa import choose_onednn_isa
from src.model.dft_conv import direct_conv_while, direct_when_dynamic, use_direct_conv


def padded_width_range(frames: Sequence[int], pad_multiple: int, stretch: float = 1.0) -> range:
    """Every padded width (frames) batches of these lengths can have: the multiples of ``pad_multiple``
    from the shortest length's to the longest's.

    ``stretch`` widens the range for speed perturbation (frames / speed_min at the top).
    """
    if not frames:
        return range(0)
    pad = max(int(pad_multiple), 1)
    low = math.ceil(min(frames) / stretch / pad)
    high = math.ceil(max(frames) * stretch / pad)
    return range(pad * min(low, high), pad * high + 1, pad)


def padded_widths(frames: Sequence[int], pad_multiple: int, stretch: float = 1.0) -> int:
    """How many distinct padded widths batches of these lengths can have (an upper bound)."""
    return len(padded_width_range(frames, pad_multiple, stretch))


def declare_dynamic_time(cell: nn.Cell, batch_size: Optional[int], n_bins: int, label_length: int = 0) -> None:
    """Mark the time axis of ``cell``'s inputs (x, lengths[, labels, weights]) as dynamic; with
    ``batch_size`` None the batch axis too (export.py's dynamic MINDIR).

    The banded conv1 runs as it is. A DFT conv2 built by ``conv_impl auto`` becomes the direct kernel in
    such a graph (it holds far less memory there, src/model/dft_conv.py), and oneDNN is capped at AVX2
    for it (src/common/cpu_isa.py); ``conv_impl dft`` keeps the DFT.
    """
    choose_isa_for_dynamic_time(cell)
    use_direct_conv(cell)
    _dynamic_inputs(cell, batch_size, n_bins, label_length)


@contextmanager
def dynamic_time_while(cell: nn.Cell, batch_size: Optional[int], n_bins: int) -> Iterator[None]:
    """:func:`declare_dynamic_time` for the graphs ``cell`` compiles inside the block: validation's network
    shares its conv layers with the training step, whose widths compiled afterwards keep the DFT."""
    choose_isa_for_dynamic_time(cell)
    with direct_conv_while(cell):
        _dynamic_inputs(cell, batch_size, n_bins)
        yield


def _dynamic_inputs(cell: nn.Cell, batch_size: Optional[int], n_bins: int, label_length: int = 0) -> None:
    inputs = [Tensor(shape=[batch_size, 1, n_bins, None], dtype=ms.float32),
              Tensor(shape=[batch_size], dtype=ms.int32)]
    if label_length:
        inputs += [Tensor(shape=[batch_size, label_length], dtype=ms.int32),
                   Tensor(shape=[batch_size], dtype=ms.float32)]
    cell.set_inputs(*inputs)


def choose_isa_for_dynamic_time(cell: nn.Cell, why: str = "conv2 with a dynamic time axis") -> None:
    """Cap oneDNN at AVX2 if a dynamic-axis graph of ``cell`` will run a direct Conv2D (src/common/cpu_isa.py);
    call it before anything runs when such a graph comes later (oneDNN fixes its ISA at its first primitive)."""
    if direct_when_dynamic(cell):
        choose_onednn_isa(direct_conv=True, why=why)


def free_compiled_graphs(cell: nn.Cell) -> None:
    """Release ``cell``'s compiled graphs and what their kernels hold; the next call compiles again.

    On the CPU a compiled graph keeps its kernels' index tables and oneDNN scratchpads for as long as
    it lives (src/training/memory_budget.py), so a graph whose shape will not come back (the
    previous width of a length-sorted evaluation) is worth dropping.
    """
    from mindspore.graph.api import _cell_graph_executor  # what Cell.__del__ and ms.ms_memory_recycle use

    if cell.compile_cache:
        _cell_graph_executor.del_net_res(cell, set(cell.compile_cache))
        cell.compile_cache.clear()
