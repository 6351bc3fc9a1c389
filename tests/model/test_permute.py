"""Row-gather permutations equal Transpose exactly, forward and backward."""
import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor, nn, ops

from src.model.permute import BlockSwap, transpose_rows


class Permute(nn.Cell):
    def __init__(self, perm, by_rows):
        super().__init__()
        self.perm, self.by_rows, self.gather = perm, by_rows, ops.Gather()

    def construct(self, x, weight):
        y = transpose_rows(self.gather, x, self.perm) if self.by_rows else x.transpose(self.perm)
        return (y * weight).sum()


@pytest.mark.parametrize("shape,perm", [((3, 4, 5), (1, 0, 2)), ((2, 3, 4, 5, 6), (3, 1, 2, 0, 4)),
                                        ((2, 3, 2, 4, 2, 5), (1, 3, 0, 4, 2, 5))])
def test_equals_transpose_forward_and_backward(shape, perm):
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    weight = Tensor(rng.standard_normal(tuple(shape[a] for a in perm)).astype(np.float32))
    expected = ops.transpose(x, perm).asnumpy()
    got = transpose_rows(ops.Gather(), x, perm).asnumpy()
    assert np.array_equal(got, expected)
    grads = [ms.grad(Permute(perm, by_rows), grad_position=0)(x, weight).asnumpy() for by_rows in (True, False)]
    assert np.array_equal(grads[0], grads[1])
    assert np.array_equal(grads[0], np.transpose(weight.asnumpy(), np.argsort(perm)))  # each element once


class Swapped(nn.Cell):
    def __init__(self):
        super().__init__()
        self.swap = BlockSwap()

    def construct(self, x, weight):
        return (self.swap(x) * weight).sum()


@pytest.mark.parametrize("dynamic", [False, True])
def test_block_swap_equals_transpose_forward_and_backward(dynamic):
    """(P, X, Y, S) -> (P, Y, X, S) by ChannelShuffle, or by Transpose in a graph whose shapes are unknown."""
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 3, 5, 4)).astype(np.float32))
    weight = Tensor(rng.standard_normal((2, 5, 3, 4)).astype(np.float32))
    swap, net = BlockSwap(), Swapped()
    if dynamic:
        swap.set_inputs(Tensor(shape=[None, 3, None, 4], dtype=ms.float32))
        net.set_inputs(Tensor(shape=[None, 3, None, 4], dtype=ms.float32), Tensor(shape=[None, None, 3, 4], dtype=ms.float32))
    assert np.array_equal(swap(x).asnumpy(), x.asnumpy().transpose(0, 2, 1, 3))
    grad = ms.grad(net, grad_position=0)(x, weight).asnumpy()
    assert np.array_equal(grad, weight.asnumpy().transpose(0, 2, 1, 3))
