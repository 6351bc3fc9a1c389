"""DFTConv2d is nn.Conv2d computed another way: same outputs and gradients within fp32 rounding."""
import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor, nn

from src.common.cpu_isa import choose_onednn_isa
from src.model.dft_conv import DFTConv2d
from tests.model.conv_checks import (assert_bitwise_repeatable_grads, assert_dynamic_mindir_is_the_conv,
                                     assert_same_conv, assert_same_conv_dynamic)


@pytest.fixture(scope="module", autouse=True)
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    # as any process running nn.Conv2d; it only takes if nothing ran yet (else the reference kernel: slower)
    choose_onednn_isa(direct_conv=True, why="the nn.Conv2d these tests compare with")


# (in channels, kernel, stride, padding (top, bottom, left, right), input (N, C, F, T), time block)
CASES = [
    (32, (21, 11), (2, 1), (10, 10, 5, 5), (2, 32, 81, 75), 32),   # DS2 conv2, several blocks + a partial one
    (32, (21, 11), (2, 1), (10, 10, 5, 5), (1, 32, 81, 1), 32),    # one frame
    (32, (21, 11), (2, 1), (10, 10, 5, 5), (3, 32, 81, 64), 16),   # an exact multiple of the block
    (1, (41, 11), (2, 2), (20, 20, 5, 5), (2, 1, 161, 37), 16),    # DS2 conv1: time stride 2, odd length
    (4, (3, 5), (1, 3), (0, 2, 4, 1), (2, 4, 9, 20), 4),           # asymmetric padding, stride 3
]


@pytest.mark.parametrize("channels,kernel,stride,padding,shape,block", CASES)
def test_equals_nn_conv2d(channels, kernel, stride, padding, shape, block):
    rng = np.random.default_rng(sum(shape))
    out = 6 if channels == 4 else 32
    direct = nn.Conv2d(channels, out, kernel, stride=stride, pad_mode="pad", padding=padding, has_bias=False,
                       weight_init=Tensor((rng.standard_normal((out, channels) + kernel) * 0.05).astype(np.float32)))
    dft = DFTConv2d(channels, out, kernel, stride, padding, time_block=block)
    assert_same_conv(direct, dft, rng.standard_normal(shape).astype(np.float32), rng)


def test_weight_is_the_conv_parameter():
    layer = DFTConv2d(32, 32, (21, 11), (2, 1), (10, 10, 5, 5))
    assert [(p.name, tuple(p.shape)) for p in layer.get_parameters()] == [("weight", (32, 32, 21, 11))]


def test_a_block_shorter_than_the_kernel_overlap_is_refused():
    with pytest.raises(ValueError, match="time_block 7 too small for kernel width 11"):
        DFTConv2d(32, 32, (21, 11), (2, 1), (10, 10, 5, 5), time_block=7)


def _ds2_conv2_pair(rng):
    """nn.Conv2d with a random weight, and DS2's conv2 through the DFT."""
    weight = Tensor((rng.standard_normal((32, 32, 21, 11)) * 0.05).astype(np.float32))
    direct = nn.Conv2d(32, 32, (21, 11), (2, 1), pad_mode="pad", padding=(10, 10, 5, 5), has_bias=False,
                       weight_init=weight)
    return direct, DFTConv2d(32, 32, (21, 11), (2, 1), (10, 10, 5, 5))


def test_dynamic_batch_and_time_axis():
    """One graph for every (N, T), gradient included: training and validation with a dynamic time axis keep
    the DFT (no direct Conv2D, so no oneDNN cap); lengths below, at and across block boundaries."""
    rng = np.random.default_rng(1)
    assert_same_conv_dynamic(*_ds2_conv2_pair(rng), [(2, 32, 81, 40), (1, 32, 81, 1), (1, 32, 81, 70)],
                             rng)


def test_only_the_auto_conv2_becomes_direct_in_a_dynamic_graph():
    """conv_impl auto: conv2 as Conv2D under a dynamic axis (memory); dft keeps the DFT; conv1 stays banded."""
    from src.model.deepspeech2 import DeepSpeechModel
    from src.model.shapes import declare_dynamic_time

    for impl, direct in (("auto", True), ("dft", False)):
        model = DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl=impl)
        assert not model.conv.conv2.direct
        declare_dynamic_time(model, 2, 161)
        assert model.conv.conv2.direct is direct and not hasattr(model.conv.conv1, "direct")


def test_a_dynamic_mindir_of_it_takes_every_batch_and_length(tmp_path):
    rng = np.random.default_rng(7)
    assert_dynamic_mindir_is_the_conv(*_ds2_conv2_pair(rng), [(1, 32, 81, 37), (3, 32, 81, 70), (2, 32, 81, 1)],
                                      rng, tmp_path)

def test_gradients_are_bitwise_repeatable():
    rng = np.random.default_rng(2)
    layer = DFTConv2d(32, 32, (21, 11), (2, 1), (10, 10, 5, 5))
    assert_bitwise_repeatable_grads(layer, rng.standard_normal((2, 32, 81, 70)).astype(np.float32),
                                    rng.standard_normal((2, 32, 41, 70)).astype(np.float32))
