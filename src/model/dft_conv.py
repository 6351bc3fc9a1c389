"""A 2-D convolution computed through the discrete Fourier transform, as MatMuls, for the CPU.

Why: DS2's conv2 (32->32 channels, 21x11 kernel) is ~78 GFLOP per batch of 16 x 5 s as a direct
convolution. On this CPU MindSpore's oneDNN only has its AVX2 im2col+GEMM path for it (~110
GFLOP/s; its AVX-512 path is oneDNN's reference kernel), while PyTorch runs an AVX-512 direct
kernel twice as fast. In the frequency domain the kernel becomes one complex weight per
(frequency, time) bin, so the layer is a channel mix per bin and costs a fraction of the FLOPs.

How: overlap-save along time (blocks of ``time_block`` output frames, each read with the
kernel's width - 1 frames of overlap), a full-length DFT along frequency, all as real MatMuls
against cos/sin tables built from the (static) shapes, so MindSpore's fast MatMul does the
work and autodiff gives the backward pass. Zero padding is folded into the tables' phases
(frequency) and into the block gather (time). Complex products are real block matrices
``[[re, -im], [im, re]]``, so no step splits or recombines real and imaginary parts.

Exactness: the same linear map as ``nn.Conv2d`` (cross-correlation, zero padding, stride),
summed in another order; results agree to fp32 rounding. The weight is the same
``(out, in, kh, kw)`` Parameter, so checkpoints are interchangeable with the direct layer.
Deterministic: blocks are cut with reshapes, slices and concatenation (the backward passes of a
gather with repeated indices and of ``ops.pad`` are not deterministic on the CPU; the row gathers
that reorder the spectrum around the channel mix are permutations, whose backward adds one value
into each zero), so a resumed run retraces an uninterrupted one bit for bit.

Dynamic shapes: the tables depend only on the frequency axis and the block length, never on the
number of frames or utterances, so one graph with a dynamic batch and time axis (``src/model/shapes.py``)
can run the same code: block counts are computed from the shape at run time, and the zero rows after
the input are a fixed number, enough for the last block whatever the length. But MindSpore's
dynamic-shape kernels keep growing with every new length for this chain of reshapes (measured, small
model, batch 4 through 512..2048 frames: killed at 7.1 GB after 6.41 GB at 1536 frames, against 4.70 GB
with the direct kernel), so a layer built by ``conv_impl auto`` switches to the direct ``Conv2D`` (same
weight) in such a graph (:func:`use_direct_conv`); ``conv_impl dft`` keeps the DFT there.
"""
import math
from contextlib import contextmanager
from typing import Iterator, List, Tuple

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import initializer

from src.model.permute import BlockSwap, transpose_rows


def _angles(rows, cols, period: int):
    """2*pi*(rows x cols mod period)/period for int32 index vectors: reduced in integers first,
    so the angle stays below 2*pi and fp32 keeps ~1e-7 accuracy whatever the length."""
    idx = (rows.expand_dims(1) * cols.expand_dims(0)) % period
    return idx.astype(ms.float32) * (2.0 * math.pi / period)


def _complex_block(cos, sin, sign: float):
    """Real (2R, 2C) matrix of the complex (R, C) matrix cos + i*sign*sin, acting on [re; im]."""
    top = ops.concat((cos, -sign * sin), axis=1)
    bottom = ops.concat((sign * sin, cos), axis=1)
    return ops.concat((top, bottom), axis=0)


def _interleave_rows(a, b):
    """(R, C), (R, C) -> (2R, C) with rows a0, b0, a1, b1, ..."""
    return ops.stack((a, b), axis=1).reshape(-1, a.shape[1])


class DFTConv2d(nn.Cell):
    """Drop-in for ``nn.Conv2d(in, out, kernel, stride, pad_mode='pad', padding, has_bias=False)``.

    ``padding`` is (top, bottom, left, right) and ``stride`` (rows, cols), as in ``nn.Conv2d``.
    Input (N, C, F, T) -> (N, O, Fo, To).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Tuple[int, int],
                 stride: Tuple[int, int], padding: Tuple[int, int, int, int], weight_init="normal",
                 time_block: int = 32, direct_when_dynamic: bool = False):
        super().__init__()
        if kernel_size[1] - stride[1] > time_block * stride[1]:
            raise ValueError(f"DFTConv2d: time_block {time_block} too small for kernel width {kernel_size[1]}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.padding = tuple(padding)
        self.time_block = time_block
        self.weight = Parameter(initializer(weight_init, (out_channels, in_channels) + self.kernel_size,
                                            ms.float32), name="weight")
        self.direct_when_dynamic = direct_when_dynamic  # conv_impl auto: the direct kernel in dynamic graphs
        self.direct = False
        self.direct_conv = ops.Conv2D(out_channels, self.kernel_size, pad_mode="pad", pad=self.padding,
                                      stride=self.stride)
        # BatchMatMul, not ops.matmul: the latter's backward transposes both operands, and a CPU Transpose
        # keeps an 8-byte index per element for the graph's lifetime; BatchMatMul's uses transpose flags.
        self.channel_mix = ops.BatchMatMul()
        self.matmul = ops.MatMul()
        self.gather = ops.Gather()
        self.swap = BlockSwap()

    def construct(self, x):
        if self.direct:
            return self.direct_conv(x, self.weight)
        n, c, f, t = x.shape
        o = self.out_channels
        kf, kt = self.kernel_size
        sf, st = self.stride
        pt, pb, pl, pr = self.padding
        fp = f + pt + pb                       # DFT length over frequency (the padded rows)
        fo = (fp - kf) // sf + 1
        to = (t + pl + pr - kt) // st + 1
        blk = self.time_block                  # output frames per time block
        hop = blk * st                         # input frames between block starts
        span = st * (blk - 1) + kt             # DFT length over time (one block's input frames)
        nk = span // 2 + 1                     # half spectrum of a real block
        nb = (to + blk - 1) // blk             # blocks
        m = n * c
        i32 = ms.int32

        # Time blocks: rows of the (padded) time-major input; block b is rows [b*hop, b*hop + span),
        # i.e. its own hop rows plus the first span - hop rows of the next one.
        xt = self.swap(x.reshape(1, m, f * t, 1))                                  # (1, F*T, N*C, 1)
        xt = self.swap(xt.reshape(1, f, t, m)).reshape(-1, f * m)                  # (T, F*N*C)
        # Zero rows by concatenation (ops.pad's backward is not deterministic on the CPU), as many as the
        # last block can read past the input whatever t is, so the count stays static under a dynamic t.
        extra = max(pr + st - kt, 0) + 2 * hop
        parts = ([ops.zeros((pl, f * m), x.dtype)] if pl else []) + [xt, ops.zeros((extra, f * m), x.dtype)]
        xt = ops.concat(parts)
        blocks = xt[:nb * hop].reshape(-1, hop, f * m)
        if span > hop:
            ahead = xt[hop:(nb + 1) * hop].reshape(-1, hop, f * m)[:, :span - hop]
            blocks = ops.concat((blocks, ahead), axis=1)

        # Real DFT over each block's frames: rows (bin, re/im) interleaved -> (nb, nk, 2F, M).
        ang = _angles(ops.arange(nk, dtype=i32), ops.arange(span, dtype=i32), span)
        spec = ops.matmul(_interleave_rows(ops.cos(ang), -ops.sin(ang)), blocks)
        spec = spec.reshape(nb * nk, 2 * f, m)

        # Complex DFT over frequency; input row r sits at padded row r + pt.
        ang = _angles(ops.arange(fp, dtype=i32), ops.arange(f, dtype=i32) + pt, fp)
        spec = ops.matmul(_complex_block(ops.cos(ang), ops.sin(ang), -1.0), spec)   # (nb*nk, 2Fp, M)

        # Per-bin channel mix: (bins, nb*N, 2C) @ (bins, 2C, 2O).
        spec = transpose_rows(self.gather, spec.reshape(nb, nk, 2, fp, n, c), (1, 3, 0, 4, 2, 5))
        mixed = self.channel_mix(spec.reshape(nk * fp, nb * n, 2 * c), self._kernel_spectrum(fp, span, nk))
        mixed = transpose_rows(self.gather, mixed.reshape(nk, fp, nb, n, 2, o), (2, 0, 4, 1, 3, 5))
        mixed = mixed.reshape(nb * nk, 2 * fp, n * o)

        # Inverse DFT over frequency at the strided output rows only.
        ang = _angles(ops.arange(fo, dtype=i32) * sf, ops.arange(fp, dtype=i32), fp)
        mixed = ops.matmul(_complex_block(ops.cos(ang), ops.sin(ang), 1.0), mixed)  # (nb*nk, 2Fo, N*O)

        # Hermitian inverse at each block's output frames (st * j), 1/(Fp*span) folded in:
        # the DC bin (and Nyquist for even spans) counts once, every other bin twice.
        k = ops.arange(nk, dtype=i32)
        once = (k == 0) | ((k == nk - 1) & (span % 2 == 0))
        scale = (2.0 - once.astype(ms.float32)) / float(fp * span)
        ang = _angles(ops.arange(blk, dtype=i32) * st, k, span)
        inv_t = ops.stack((ops.cos(ang) * scale, -ops.sin(ang) * scale), axis=2).reshape(blk, 2 * nk)
        y = ops.matmul(inv_t, mixed.reshape(-1, 2 * nk, fo * n * o))           # (nb, blk, Fo*N*O)
        y = self.swap(y.reshape(-1, fo * n * o)[:to].reshape(1, to * fo, n * o, 1))  # (1, N*O, To*Fo, 1)
        return self.swap(y.reshape(n * o, to, fo, 1)).reshape(n, o, fo, to)

    def _kernel_spectrum(self, fp: int, span: int, nk: int):
        """conj(DFT) of the zero-padded kernel per bin, as (nk*Fp, 2C, 2O) blocks [[Vr, Vi], [-Vi, Vr]]
        so that [Xr | Xi] @ block = [Re | Im] of X * conj(W) (correlation, as nn.Conv2d computes)."""
        w = self.weight
        o, c, kf, kt = w.shape
        i32 = ms.int32
        ang = _angles(ops.arange(nk, dtype=i32), ops.arange(kt, dtype=i32), span)  # (nk, kt)
        # Over time first, the weight taps-first (its transpose is the smallest tensor here): rows (bin, re/im).
        wt = self.matmul(_interleave_rows(ops.cos(ang), ops.sin(ang)), w.transpose(3, 2, 1, 0).reshape(kt, -1))
        wt = wt.reshape(nk, 2 * kf, c * o)
        ang = _angles(ops.arange(fp, dtype=i32), ops.arange(kf, dtype=i32), fp)    # (Fp, kf)
        cos, sin = ops.cos(ang), ops.sin(ang)
        # The real and imaginary parts as two products (a BatchMatMul of a broadcast small table: its backward
        # needs no Transpose of wt, ops.matmul's would), assembled by concatenation into the blocks
        # [[Vr, Vi], [-Vi, Vr]] per (in, out) channel pair: no slices (their gradients are zero-filled copies of
        # the whole) and no Transpose (an index table as large as the spectrum), whatever the batch.
        table = ops.concat((cos, -sin), axis=1)
        re = self.channel_mix(ops.broadcast_to(table, (nk,) + table.shape), wt).reshape(nk, fp, c, 1, o)
        table = ops.concat((sin, cos), axis=1)
        im = self.channel_mix(ops.broadcast_to(table, (nk,) + table.shape), wt).reshape(nk, fp, c, 1, o)
        top = ops.concat((re, im), axis=3).expand_dims(2)
        bottom = ops.concat((-im, re), axis=3).expand_dims(2)
        return ops.concat((top, bottom), axis=2).reshape(nk * fp, 2 * c, 2 * o)


def direct_when_dynamic(cell: nn.Cell) -> List[DFTConv2d]:
    """The DFTConv2d layers inside ``cell`` that ``conv_impl auto`` built: direct in a graph with a dynamic axis."""
    return [sub for _, sub in cell.cells_and_names() if isinstance(sub, DFTConv2d) and sub.direct_when_dynamic]


def use_direct_conv(cell: nn.Cell) -> List[bool]:
    """Switch those layers (:func:`direct_when_dynamic`) to the direct convolution, same weight; returns their
    previous settings. Graph mode reads the switch when a graph compiles: graphs already compiled keep the
    path they were built with."""
    layers = direct_when_dynamic(cell)
    before = [layer.direct for layer in layers]
    for layer in layers:
        layer.direct = True
    return before


@contextmanager
def direct_conv_while(cell: nn.Cell) -> Iterator[None]:
    """The direct convolution for graphs compiled inside the block only: validation's dynamic graph shares
    its layers with the training graphs, whose widths compiled later must keep the DFT."""
    layers = direct_when_dynamic(cell)
    before = use_direct_conv(cell)
    try:
        yield
    finally:
        for layer, direct in zip(layers, before):
            layer.direct = direct
