"""A one-input-channel 2-D convolution as one MatMul against a banded (Toeplitz) block matrix, for the CPU.

Why: DS2's conv1 (1 -> 32 channels, 41x11 kernel, stride 2x2) is ~9 GFLOP per batch of 16 x 5 s as
a direct convolution, but MindSpore's CPU Conv2D runs it on oneDNN, whose AVX-512 path for it
is the *reference* kernel (under 1 GFLOP/s); the AVX2 cap that avoided that halved every MatMul
on AVX-512/AMX CPUs. As a MatMul it runs in MindSpore's fast GEMM at the CPU's full ISA, and it
keeps working with a dynamic time axis (no table depends on the number of frames).

How: zero padding by concatenation; the padded frequency axis is cut into blocks of
``rows_per_block`` (B) output rows, each reading ``stride_f * (B - 1) + kernel_f`` input rows,
and the ``kernel_t`` time taps are strided slices. The stacked (tap, row) patch of every
(block, utterance, output frame) is multiplied by one (B * out, kernel_t * rows) matrix whose
block b holds the kernel shifted down by ``stride_f * b`` rows: a band. For DS2's conv1 (161
bins -> 81 rows = 9 blocks of 9, each reading 57 rows) that is 57/41 = 1.39x the direct FLOPs,
all in one GEMM; larger B means fewer, larger patches but more multiplications by band zeros.

Exactness: the band matrix is the weight times a constant 0/1 selection tensor (one nonzero
term per entry: exact, and autodiff carries the gradient back to the weight), so the layer is
the same linear map as ``nn.Conv2d`` summed in another order; the weight is the same
``(out, 1, kh, kw)`` Parameter, so checkpoints are interchangeable with the direct layer.
Deterministic: no gather and no ``ops.pad`` (their CPU backward passes are not), only slices,
concatenation, stacking, reshapes and MatMuls.
"""
from typing import Tuple

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import initializer

from src.model.permute import transpose_rows


def band_selection(kernel_rows: int, stride_rows: int, rows_per_block: int) -> np.ndarray:
    """(kernel_rows, B * rows) 0/1 matrix: kernel row i lands at block row b's input row stride * b + i."""
    rows = stride_rows * (rows_per_block - 1) + kernel_rows
    sel = np.zeros((kernel_rows, rows_per_block, rows), np.float32)
    for b in range(rows_per_block):
        sel[np.arange(kernel_rows), b, stride_rows * b + np.arange(kernel_rows)] = 1.0
    return sel.reshape(kernel_rows, rows_per_block * rows)


def _zeros(one, count: int, axis: int):
    """``count`` copies along ``axis`` of zeros shaped as ``one`` (1 wide there): works for dynamic shapes."""
    return ops.tile(ops.zeros_like(one), tuple(count if i == axis else 1 for i in range(one.ndim)))


def _stack(parts, axis: int):
    """``ops.stack`` as a concatenation: in a MINDIR with a dynamic axis, loaded with ``nn.GraphCell``,
    Stack keeps the shape of its first call (MindSpore 2.10; Concat does not)."""
    return ops.concat([part.expand_dims(axis) for part in parts], axis=axis)


class BandedConv2d(nn.Cell):
    """Drop-in for ``nn.Conv2d(1, out, kernel, stride, pad_mode='pad', padding, has_bias=False)``.

    ``padding`` is (top, bottom, left, right) and ``stride`` (rows, cols), as in ``nn.Conv2d``.
    Input (N, 1, F, T) -> (N, O, Fo, To); F must be static, N and T may be dynamic.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Tuple[int, int],
                 stride: Tuple[int, int], padding: Tuple[int, int, int, int], weight_init="normal",
                 rows_per_block: int = 9):
        super().__init__()
        if in_channels != 1:
            raise ValueError(f"BandedConv2d: one input channel only (got {in_channels}); use DFTConv2d")
        self.out_channels = out_channels
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.padding = tuple(padding)
        self.rows_per_block = rows_per_block
        self.weight = Parameter(initializer(weight_init, (out_channels, 1) + self.kernel_size, ms.float32),
                                name="weight")
        self.selection = Tensor(band_selection(self.kernel_size[0], self.stride[0], rows_per_block))
        # MatMul, not ops.matmul: the latter's backward transposes the patch (an 8-byte index per element kept
        # by the CPU Transpose kernel for the graph's lifetime); MatMul's uses transpose flags.
        self.matmul = ops.MatMul()
        self.gather = ops.Gather()

    def construct(self, x):
        o, blk = self.out_channels, self.rows_per_block
        kf, kt = self.kernel_size
        sf, st = self.stride
        pt, pb, pl, pr = self.padding
        f = x.shape[2]
        fo = (f + pt + pb - kf) // sf + 1
        nb = (fo + blk - 1) // blk             # frequency blocks (the last may run past fo)
        rows = sf * (blk - 1) + kf             # input rows one block reads
        used = sf * (nb * blk - 1) + kf        # padded rows the blocks read

        # Frequency-major (F, N, T), zero-padded by concatenation (ops.pad's backward is not deterministic).
        xf = transpose_rows(self.gather, x[:, 0], (1, 0, 2))
        parts = ([_zeros(xf[:, :, :1], pl, 2)] if pl else []) + [xf] + ([_zeros(xf[:, :, :1], pr, 2)] if pr else [])
        xf = ops.concat(parts, axis=2) if len(parts) > 1 else xf                # (F, N, Tp)
        bottom = used - pt - f
        parts = (([_zeros(xf[:1], pt, 0)] if pt else []) + [xf[:min(f, used - pt)]]
                 + ([_zeros(xf[:1], bottom, 0)] if bottom > 0 else []))
        xf = ops.concat(parts, axis=0) if len(parts) > 1 else parts[0]          # (used, N, Tp)

        # Patch (tap, row, block, N, To): rows sf*blk*k ... of block k, frames j, j + st, ... of tap j.
        blocks = _stack([xf[sf * blk * k:sf * blk * k + rows] for k in range(nb)], axis=1)
        taps = _stack([blocks[:, :, :, j:j + 1 - kt:st] if j < kt - 1 else blocks[:, :, :, j::st]
                       for j in range(kt)], axis=0)                             # stops counted from the end
        patch = taps.reshape(kt * rows, -1)

        # Band matrix (B*O, kt*rows): block b's rows hold the kernel shifted down sf*b input rows.
        w = self.weight.reshape(o, kf, kt).transpose(0, 2, 1).reshape(o * kt, kf)
        band = ops.matmul(w, self.selection).reshape(o, kt, blk, rows).transpose(2, 0, 1, 3)
        y = self.matmul(band.reshape(blk * o, kt * rows), patch)                 # (B*O, nb*N*To)
        y = transpose_rows(self.gather, y.reshape(blk, o, nb, x.shape[0], -1), (3, 1, 2, 0, 4))  # (N, O, nb, B, To)
        y = y.reshape(x.shape[0], o, nb * blk, -1)
        return y[:, :, :fo] if nb * blk > fo else y
