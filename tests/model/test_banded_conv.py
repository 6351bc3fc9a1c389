"""BandedConv2d (conv1 as one MatMul) is nn.Conv2d computed another way: same outputs and gradients within
fp32 rounding, for static and dynamic shapes, bit-for-bit repeatable."""
import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor, nn

from src.common.cpu_isa import choose_onednn_isa
from src.model.banded_conv import BandedConv2d, band_selection
from src.model.geometry import CONV_LAYERS
from tests.model.conv_checks import (assert_bitwise_repeatable_grads, assert_dynamic_mindir_is_the_conv, assert_same_conv,
                                     assert_same_conv_dynamic)

CONV1 = CONV_LAYERS[0]


@pytest.fixture(scope="module", autouse=True)
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    # as any process running nn.Conv2d; it only takes if nothing ran yet (else the reference kernel: slower)
    choose_onednn_isa(direct_conv=True, why="the nn.Conv2d these tests compare with")


def _pair(kernel, stride, padding, rows_per_block, rng, out=32):
    """nn.Conv2d with a random weight, and the banded layer of the same geometry."""
    weight = Tensor((rng.standard_normal((out, 1) + kernel) * 0.05).astype(np.float32))
    direct = nn.Conv2d(1, out, kernel, stride=stride, pad_mode="pad", padding=padding, has_bias=False,
                       weight_init=weight)
    return direct, BandedConv2d(1, out, kernel, stride, padding, rows_per_block=rows_per_block)


DS2 = (CONV1.kernel, CONV1.stride, CONV1.pad_4)
# (kernel, stride, padding (top, bottom, left, right), input (N, 1, F, T), output rows per block)
CASES = [
    DS2 + ((2, 1, 161, 37), 9),           # DS2 conv1: 81 rows = 9 blocks of 9, odd length
    DS2 + ((1, 1, 161, 1), 9),            # one frame
    DS2 + ((3, 1, 161, 40), 9),           # even length
    DS2 + ((2, 1, 101, 12), 9),           # 51 rows: the last block runs past them
    DS2 + ((1, 1, 161, 8), 1),            # one row per block (plain im2col)
    ((5, 3), (3, 1), (0, 2, 4, 1), (2, 1, 17, 9), 4),   # asymmetric padding, stride 3 in frequency
    ((3, 3), (2, 2), (0, 0, 1, 1), (2, 1, 10, 8), 2),   # the blocks leave the last input row unread
]


@pytest.mark.parametrize("kernel,stride,padding,shape,rows_per_block", CASES)
def test_equals_nn_conv2d(kernel, stride, padding, shape, rows_per_block):
    rng = np.random.default_rng(sum(shape))
    direct, banded = _pair(kernel, stride, padding, rows_per_block, rng)
    assert_same_conv(direct, banded, rng.standard_normal(shape).astype(np.float32), rng)


def test_dynamic_batch_and_time_axis():
    """One graph for every (N, T), with the weight gradient too (training with a dynamic time axis)."""
    rng = np.random.default_rng(5)
    assert_same_conv_dynamic(*_pair(*DS2, 9, rng), [(2, 1, 161, 37), (1, 1, 161, 1), (3, 1, 161, 40)], rng)


def test_a_dynamic_mindir_of_it_takes_every_batch_and_length(tmp_path):
    """export.py's dynamic MINDIR runs conv1 banded: one file, any (N, T) (ops.stack would freeze the shape)."""
    rng = np.random.default_rng(6)
    assert_dynamic_mindir_is_the_conv(*_pair(*DS2, 9, rng), [(1, 1, 161, 37), (3, 1, 161, 120), (2, 1, 161, 1)],
                                      rng, tmp_path)


def test_gradients_are_bitwise_repeatable():
    rng = np.random.default_rng(2)
    _, banded = _pair(*DS2, 9, rng)
    assert_bitwise_repeatable_grads(banded, rng.standard_normal((2, 1, 161, 70)).astype(np.float32),
                                    rng.standard_normal((2, 32, 81, 35)).astype(np.float32))


def test_band_is_exact_one_weight_per_entry():
    """Each band entry is one weight or zero (no sums): the band matrix is exact in fp32."""
    sel = band_selection(41, 2, 9).reshape(41, 9, 57)
    assert set(np.unique(sel)) == {0.0, 1.0}
    assert sel.sum(axis=0).max() == 1 and sel.sum() == 41 * 9
    assert all(sel[i, b, 2 * b + i] == 1 for i in range(41) for b in range(9))


def test_weight_is_the_conv_parameter_and_one_channel_only():
    layer = BandedConv2d(1, 32, CONV1.kernel, CONV1.stride, CONV1.pad_4)
    assert [(p.name, tuple(p.shape)) for p in layer.get_parameters()] == [("weight", (32, 1, 41, 11))]
    with pytest.raises(ValueError, match="one input channel only"):
        BandedConv2d(32, 32, (21, 11), (2, 1), (10, 10, 5, 5))
