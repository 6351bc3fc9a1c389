"""Shared by the tests of the conv layers computed another way (DFTConv2d, BandedConv2d): is it nn.Conv2d's map?"""
import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops


class Grads(nn.Cell):
    """Gradients of sum(out * probe) with respect to the input and the weight."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.params = net.trainable_params()
        self.grad = ops.GradOperation(get_all=True, get_by_list=True)

    def construct(self, x, probe):
        return self.grad(self._loss, self.params)(x, probe)

    def _loss(self, x, probe):
        return (self.net(x) * probe).sum()


# fp32 rounding, relative to the largest magnitude: a DS2 conv output sums up to ~7,000 products, and
# nn.Conv2d's own conv2 output moves by 3.2e-6 between oneDNN's GEMM kernel (AVX2 cap) and its reference
# kernel (full ISA); which one a test process gets depends on what ran first (src/common/cpu_isa.py).
REL = 1e-5


def assert_same_conv(direct: nn.Cell, other: nn.Cell, x: np.ndarray, rng, rel: float = REL) -> None:
    """``other`` (with ``direct``'s weight) gives nn.Conv2d's output, input gradient and weight gradient
    on ``x``, each within ``rel`` of its largest magnitude."""
    other.weight.set_data(direct.weight.data)
    x = Tensor(x)
    want = direct(x).asnumpy()
    got = other(x).asnumpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=rel * np.abs(want).max(), rtol=0)
    probe = Tensor(rng.standard_normal(want.shape).astype(np.float32))
    (dx_want, _), (dw_want,) = Grads(direct)(x, probe)
    (dx_got, _), (dw_got,) = Grads(other)(x, probe)
    for got_grad, want_grad in ((dx_got, dx_want), (dw_got, dw_want)):
        want_grad = want_grad.asnumpy()
        np.testing.assert_allclose(got_grad.asnumpy(), want_grad, atol=rel * np.abs(want_grad).max(), rtol=0)


def assert_bitwise_repeatable_grads(layer: nn.Cell, x: np.ndarray, probe: np.ndarray, repeats: int = 3) -> None:
    """Resume-equals-uninterrupted needs deterministic backward passes (ops.pad's and gather's are not)."""
    grads = Grads(layer)
    x, probe = Tensor(x), Tensor(probe)
    (dx, _), (dw,) = grads(x, probe)
    first = [dx.asnumpy(), dw.asnumpy()]
    for _ in range(repeats):
        again = grads(x, probe)
        np.testing.assert_array_equal(again[0][0].asnumpy(), first[0])
        np.testing.assert_array_equal(again[1][0].asnumpy(), first[1])


def assert_same_conv_dynamic(direct: nn.Cell, other: nn.Cell, shapes, rng) -> None:
    """One graph of ``other`` with a dynamic batch and time axis (training and export.py's dynamic MINDIR
    declare them) gives nn.Conv2d's output and weight gradient at every (N, C, F, T) of ``shapes``."""
    other.weight.set_data(direct.weight.data)
    channels, bins = shapes[0][1], shapes[0][2]
    grads = Grads(other)
    other.set_inputs(Tensor(shape=[None, channels, bins, None], dtype=ms.float32))
    out_shape = direct(Tensor(np.zeros(shapes[0], np.float32))).shape
    grads.set_inputs(Tensor(shape=[None, channels, bins, None], dtype=ms.float32),
                     Tensor(shape=[None, out_shape[1], out_shape[2], None], dtype=ms.float32))
    for shape in shapes:
        x = Tensor(rng.standard_normal(shape).astype(np.float32))
        want = direct(x).asnumpy()
        np.testing.assert_allclose(other(x).asnumpy(), want, atol=REL * np.abs(want).max(), rtol=0)
        probe = Tensor(rng.standard_normal(want.shape).astype(np.float32))
        dw_want = Grads(direct)(x, probe)[1][0].asnumpy()
        dw_got = grads(x, probe)[1][0].asnumpy()
        np.testing.assert_allclose(dw_got, dw_want, atol=REL * np.abs(dw_want).max(), rtol=0)


def assert_dynamic_mindir_is_the_conv(direct: nn.Cell, other: nn.Cell, shapes, rng, folder) -> None:
    """``other`` exported as a MINDIR with a dynamic batch and time axis and loaded with ``nn.GraphCell``
    gives nn.Conv2d's output at every shape (an op that freezes its first call's shape would fail)."""
    other.weight.set_data(direct.weight.data)
    other.set_inputs(Tensor(shape=[None, shapes[0][1], shapes[0][2], None], dtype=ms.float32))
    path = str(folder / "conv")
    ms.export(other, *other.get_inputs(), file_name=path, file_format="MINDIR")
    graph = nn.GraphCell(ms.load(path + ".mindir"))
    for shape in shapes:
        x = Tensor(rng.standard_normal(shape).astype(np.float32))
        want = direct(x).asnumpy()
        np.testing.assert_allclose(graph(x).asnumpy(), want, atol=REL * np.abs(want).max(), rtol=0)
