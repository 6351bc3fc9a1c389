"""The network: zoo parameter names/shapes/count, and equality with nn.LSTM (exact lengths: test_geometry.py)."""
import subprocess
import sys

import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor, nn

from src.model.banded_conv import BandedConv2d
from src.model.deepspeech2 import BiLSTM, DeepSpeechModel, NetWithLoss, count_parameters
from src.model.dft_conv import DFTConv2d
from tests.helpers import ROOT, speech_batch


@pytest.fixture(scope="module", autouse=True)
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")


def test_full_model_matches_the_zoo_parameters():
    net = DeepSpeechModel()
    shapes = {p.name: tuple(p.shape) for p in net.get_parameters()}
    assert shapes["conv.conv1.weight"] == (32, 1, 41, 11)
    assert shapes["conv.conv2.weight"] == (32, 32, 21, 11)
    for name in ("gamma", "beta", "moving_mean", "moving_variance"):
        assert shapes[f"conv.bn1.{name}"] == (32,) and shapes[f"conv.bn2.{name}"] == (32,)
    assert shapes["RNN.lstms.0.weight_ih_l0"] == (4096, 1312)
    assert shapes["RNN.lstms.0.weight_ih_l0_reverse"] == (4096, 1312)
    assert shapes["RNN.lstms.4.weight_hh_l0_reverse"] == (4096, 1024)
    assert shapes["RNN.lstms.4.bias_ih_l0"] == (4096,)
    assert shapes["fc.module.weight"] == (29, 1024)
    assert "RNN.lstms.5.weight_ih_l0" not in shapes
    assert count_parameters(net) == 86_608_096
    assert count_parameters(net, trainable_only=False) == 86_608_224


def test_bilstm_equals_nn_lstm_with_seq_length():
    """Our fused, ReverseSequence layer == the straightforward nn.LSTM(bidirectional, seq_length)."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        rng = np.random.default_rng(0)
        t, n, f, h = 9, 3, 7, 5
        ours = BiLSTM(f, h)
        ref = nn.LSTM(f, h, num_layers=1, has_bias=True, bidirectional=True)
        ref_params = {p.name.split(".")[-1]: p for p in ref.get_parameters()}
        for p in ours.get_parameters():
            p.set_data(Tensor(rng.standard_normal(p.shape).astype(np.float32) * 0.3))
            ref_params[p.name.split(".")[-1]].set_data(p.data)
        x = rng.standard_normal((t, n, f)).astype(np.float32)
        lengths = np.array([9, 5, 2], np.int32)
        mask = (np.arange(t)[:, None] < lengths[None, :]).astype(np.float32)[:, :, None]
        out = ours(Tensor(x), Tensor(lengths), Tensor(mask)).asnumpy()
        ref_out, _ = ref(Tensor(x), None, Tensor(lengths))
        ref_out = ref_out.asnumpy()
        expected = (ref_out[..., :h] + ref_out[..., h:]) * mask
        np.testing.assert_allclose(out, expected, atol=1e-5)
        # gradients too: input and every weight, through ReverseSequence and the fused kernel
        target = Tensor(rng.standard_normal((t, n, h)).astype(np.float32))
        length_t, mask_t = Tensor(lengths), Tensor(mask)

        def ours_loss(inp):
            return (ours(inp, length_t, mask_t) * target).sum()

        def ref_loss(inp):
            both, _ = ref(inp, None, length_t)
            return ((both[..., :h] + both[..., h:]) * mask_t * target).sum()

        g_ours = ms.grad(ours_loss, grad_position=0, weights=ours.trainable_params())(Tensor(x))
        g_ref = ms.grad(ref_loss, grad_position=0, weights=ref.trainable_params())(Tensor(x))
        np.testing.assert_allclose(g_ours[0].asnumpy(), g_ref[0].asnumpy(), atol=1e-5)
        ref_names = [p.name.split(".")[-1] for p in ref.trainable_params()]
        for param, grad in zip(ours.trainable_params(), g_ours[1]):
            expected_grad = g_ref[1][ref_names.index(param.name)].asnumpy()
            np.testing.assert_allclose(grad.asnumpy(), expected_grad, atol=1e-5)
    finally:
        ms.set_context(mode=ms.GRAPH_MODE)


def test_padding_does_not_change_an_utterance():
    """The backward LSTM starts at the real end and conv outputs are masked: padding is inert."""
    ms.set_seed(3)
    net = DeepSpeechModel(hidden_size=16, hidden_layers=2)
    net.set_train(False)
    rng = np.random.default_rng(1)
    feat = rng.standard_normal((1, 1, 161, 40)).astype(np.float32)
    short, _ = net(Tensor(feat), Tensor(np.array([40], np.int32)))
    padded = np.concatenate([feat, np.zeros((1, 1, 161, 24), np.float32)], axis=3)
    long, _ = net(Tensor(padded), Tensor(np.array([40], np.int32)))
    np.testing.assert_allclose(long.asnumpy()[:20], short.asnumpy(), atol=1e-5)


def test_matmul_and_direct_networks_are_the_same_map():
    """conv_impl auto (the CPU default: conv1 banded, conv2 through the DFT) and nn.Conv2d give the same
    outputs and gradients from one checkpoint, on real speech.

    In a fresh process whose oneDNN is capped for the direct conv before anything runs, as train.py does
    for ``conv_impl direct``: in a long test process oneDNN already runs at the full AVX-512 ISA, where
    nn.Conv2d gets oneDNN's reference kernel, and its weight gradient came out NaN once in a full run."""
    proc = subprocess.run([sys.executable, "-c", "from tests.model.test_deepspeech2 import compare_matmul_and_direct; "
                           "compare_matmul_and_direct()"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "same map" in proc.stdout


def compare_matmul_and_direct():
    from src.common.cpu_isa import choose_onednn_isa

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    choose_onednn_isa(direct_conv=True, why="the nn.Conv2d this test compares with")
    rng = np.random.default_rng(3)
    nets = {impl: DeepSpeechModel(hidden_size=16, hidden_layers=1, conv_impl=impl) for impl in ("direct", "auto")}
    for net in (nets["auto"], DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl="dft")):
        assert (type(net.conv.conv1), type(net.conv.conv2)) == (BandedConv2d, DFTConv2d)
    assert type(nets["direct"].conv.conv1) is nn.Conv2d and type(nets["direct"].conv.conv2) is nn.Conv2d
    names = {impl: sorted(p.name for p in net.get_parameters()) for impl, net in nets.items()}
    assert names["auto"] == names["direct"]
    for param in nets["direct"].get_parameters():
        value = rng.standard_normal(param.shape).astype(np.float32) * 0.1
        param.set_data(Tensor(np.abs(value) + 0.5 if "variance" in param.name else value))
    ms.load_param_into_net(nets["auto"], {p.name: p for p in nets["direct"].get_parameters()})
    x, lengths = speech_batch(frames=83, shorter_by=38, clips=3)
    outputs = {}
    for impl, net in nets.items():
        net.set_train(False)
        outputs[impl] = net(Tensor(x), Tensor(lengths))[0].asnumpy()
        loss = NetWithLoss(net)
        grads = ms.value_and_grad(loss, None, loss.trainable_params())
        labels = Tensor(np.array([[1, 2, 3], [4, 5, 28], [6, 28, 28]], np.int32))
        weights = Tensor(np.ones(3, np.float32))
        outputs[impl + "_grads"] = [g.asnumpy() for g in grads(Tensor(x), Tensor(lengths), labels, weights)[1]]
    scale = np.abs(outputs["direct"]).max()
    np.testing.assert_allclose(outputs["auto"], outputs["direct"], atol=1e-5 * scale, rtol=0)
    for got, want in zip(outputs["auto_grads"], outputs["direct_grads"]):
        np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max() + 1e-7, rtol=1e-4)
    print("same map")


def test_unknown_conv_impl_is_an_error():
    with pytest.raises(ValueError, match="conv_impl 'fft'"):
        DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl="fft")
