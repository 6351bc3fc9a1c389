"""Row-gather permutations equal Transpose exactly, forward and backward."""
import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor, nn, ops

from src.model.row_gather import transpose_rows


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
