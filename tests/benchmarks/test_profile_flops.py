"""The profile's FLOP counts (benchmarks/profile_flops.py): against hand counts, and against the MatMuls
the conv layers really issue."""
import math

import numpy as np
import pytest

import src  # noqa: F401  (sets oneDNN's ISA before MindSpore loads)
import mindspore as ms
from mindspore import Tensor, ops

from benchmarks import profile_flops as pf
from src.model.dft_conv import DFTConv2d
from src.model.geometry import CONV_LAYERS, ConvSpec

CONV1, CONV2 = CONV_LAYERS


def test_direct_convs_match_a_hand_count_and_the_quoted_figures():
    # 16 x 5 s = 501 frames: conv1 -> 251 frames, 161 -> 81 -> 41 bins
    conv1 = pf.direct_conv(CONV1, 16, 161, 501, input_grad=False)
    conv2 = pf.direct_conv(CONV2, 16, 81, 251, input_grad=True)
    assert conv1.forward == 2 * 16 * 32 * 81 * 251 * (1 * 41 * 11)
    assert conv2.forward == 2 * 16 * 32 * 41 * 251 * (32 * 21 * 11)
    assert conv1.backward == conv1.forward  # the spectrogram needs no gradient: the weight's only
    assert conv2.backward == 2 * conv2.forward  # the weight's and the input's
    assert (round(conv1.forward / 1e9), round(conv2.forward / 1e9)) == (9, 78)  # as the conv modules quote


def test_bilstm_counts_the_gate_matmuls_of_both_directions():
    lstm = pf.bilstm(4, 501, 1312, 1024)
    assert lstm.forward == 2 * (2 * 501 * 4 * (4 * 1024) * (1312 + 1024))
    assert lstm.backward == 2 * lstm.forward


def test_dft_conv_matches_a_hand_count():
    # C=2 -> O=3, kernel 3x3, stride 1, padding 1; input 1 x 2 x 4 bins x 5 frames; time blocks of 4:
    # Fp=6, Fo=4, To=5, span=6, nk=4, 2 blocks. Forward: time DFT 2*8*6*8*2, frequency DFT 8*12*8*2*2,
    # mix 24*2*4*6*2, inverse frequency 8*8*12*3*2, inverse time 2*4*8*12*2, kernel 18*3*8*2 + 4*12*6*6*2.
    spec = ConvSpec(2, 3, kernel=(3, 3), stride=(1, 1), padding=(1, 1))
    flops = pf.dft_conv(spec, 1, 4, 5, input_grad=True, time_block=4)
    assert flops.forward == 1536 + 3072 + 2304 + 4608 + 1536 + 864 + 3456
    assert flops.backward == flops.forward + 2304  # tables need no gradient; the mix needs both
    assert pf.dft_conv(spec, 1, 4, 5, input_grad=False, time_block=4).backward == flops.backward - 1536 - 3072 - 2304


def test_banded_conv1_is_57_over_41_of_direct_plus_its_band_matrix():
    banded = pf.banded_conv(CONV1, 16, 161, 501, input_grad=False, rows_per_block=9)
    direct = pf.direct_conv(CONV1, 16, 161, 501, input_grad=False)
    band = 2 * (32 * 11) * 41 * (9 * 57)  # (O * kt, kf) @ (kf, B * rows)
    assert banded.forward == pytest.approx(direct.forward * 57 / 41 + band)


def test_step_flops_parts_and_an_unknown_conv_form_counted_as_direct():
    parts = pf.step_flops(pf.StepShape(batch=2, frames=128, hidden=64, layers=2), ["SomeNewConv", pf.DFT], [0, 32])
    assert list(parts) == ["conv1", "conv2", "lstm0", "lstm1", "fc", "update"]
    assert parts["conv1"].ours is None and parts["conv1"].counted == parts["conv1"].direct
    assert parts["conv2"].ours == pf.dft_conv(CONV2, 2, 81, 64, True, 32)
    assert parts["lstm0"].counted == pf.bilstm(2, 64, 1312, 64)
    assert parts["lstm1"].counted == pf.bilstm(2, 64, 64, 64)
    assert parts["fc"].counted == pf.matmul(2 * 64, 64, 29, grads=2)
    assert parts["update"].counted.train == 0


@pytest.fixture
def pynative():
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)  # construct runs as Python, so every ops.matmul call is seen
    ms.set_device("CPU")
    yield
    ms.set_context(mode=mode)


def issued_matmul_flops(layer, x: np.ndarray, monkeypatch) -> float:
    """Forward FLOPs of every MatMul the layer issues: ``ops.matmul`` calls and its own MatMul/BatchMatMul
    primitives (broadcast batch dims included)."""
    seen = []

    def counted(real, transpose_b=False):
        def call(a, b):
            k_b, n_b = (b.shape[-1], b.shape[-2]) if transpose_b else (b.shape[-2], b.shape[-1])
            assert a.shape[-1] == k_b
            batch = math.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
            seen.append(2.0 * batch * a.shape[-2] * a.shape[-1] * n_b)
            return real(a, b)
        return call

    monkeypatch.setattr(ops, "matmul", counted(ops.matmul))
    for name, prim in list(vars(layer).items()) + list(getattr(layer, "_primitives", {}).items()):
        if isinstance(prim, (ops.MatMul, ops.BatchMatMul)):
            assert not prim.transpose_a
            monkeypatch.setattr(layer, name, counted(prim, prim.transpose_b))
    layer(Tensor(x))
    return sum(seen)


def test_dft_formula_equals_the_matmuls_dftconv2d_issues(pynative, monkeypatch):
    n, frames = 2, 40  # conv2's real geometry (81 bins, 32 -> 32 channels) on a short input
    layer = DFTConv2d(32, 32, CONV2.kernel, CONV2.stride, CONV2.pad_4, time_block=32)
    x = np.zeros((n, 32, 81, frames), np.float32)
    assert issued_matmul_flops(layer, x, monkeypatch) == pf.dft_conv(CONV2, n, 81, frames, True, 32).forward


def test_banded_formula_equals_the_matmuls_bandedconv2d_issues(pynative, monkeypatch):
    banded = pytest.importorskip("src.model.banded_conv")
    n, frames = 2, 40
    layer = banded.BandedConv2d(1, 32, CONV1.kernel, CONV1.stride, CONV1.pad_4, rows_per_block=9)
    x = np.zeros((n, 1, 161, frames), np.float32)
    assert issued_matmul_flops(layer, x, monkeypatch) == pf.banded_conv(CONV1, n, 161, frames, False, 9).forward
