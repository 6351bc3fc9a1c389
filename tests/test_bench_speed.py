"""The benchmark's PyTorch network is the same computation as ours (so its timings compare like with like),
and its cases have the shapes asked for."""
import argparse

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # requirements-bench.txt only

from benchmarks import bench_speed  # noqa: E402  (first: it imports src, which caps oneDNN before MindSpore loads)
import mindspore as ms  # noqa: E402
from mindspore import Tensor  # noqa: E402

from src.model.deepspeech2 import DeepSpeechModel  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")


@pytest.mark.parametrize("activation,rnn_batch_norm", [("tanh", False), ("hardtanh", True)])
def test_pytorch_network_equals_ours_with_our_parameters(activation, rnn_batch_norm):
    ms.set_seed(5)
    ours = DeepSpeechModel(hidden_size=12, hidden_layers=2, activation=activation, rnn_batch_norm=rnn_batch_norm)
    rng = np.random.default_rng(0)
    for param in ours.get_parameters():  # non-trivial batch-norm statistics too
        value = rng.standard_normal(param.shape).astype(np.float32) * 0.3
        param.set_data(Tensor(np.abs(value) + 0.5 if "variance" in param.name else value))
    ours.set_train(False)
    x = rng.standard_normal((3, 1, 161, 64)).astype(np.float32)
    lengths = np.array([64, 41, 20], np.int32)
    x[1, :, :, 41:] = 0
    x[2, :, :, 20:] = 0
    expected, out_lengths = (t.asnumpy() for t in ours(Tensor(x), Tensor(lengths)))
    for packed in (True, False):
        theirs = bench_speed.TorchDeepSpeech(12, 2, activation, rnn_batch_norm, packed)
        bench_speed.copy_parameters(ours, theirs)
        theirs.eval()
        with torch.no_grad():
            logits, their_lengths = theirs(torch.from_numpy(x), torch.from_numpy(lengths).long())
        np.testing.assert_array_equal(their_lengths.numpy(), out_lengths)
        # the full-length utterance is the same either way; shorter ones only with packing (length-correct)
        rows = slice(None) if packed else slice(0, 1)
        got = logits.numpy()[:, rows] * (np.arange(32)[:, None, None] < out_lengths[None, rows, None])
        want = expected[:, rows] * (np.arange(32)[:, None, None] < out_lengths[None, rows, None])
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    unpacked_short = logits.numpy()[:out_lengths[2], 2]
    assert not np.allclose(unpacked_short, expected[:out_lengths[2], 2], atol=1e-4)  # so packing matters


def test_shape_cases_keep_their_frame_count():
    """``--shape MODEL:BATCHxFRAMES`` gives a batch of exactly that many frames (seconds are not exact in binary)."""
    assert all(bench_speed.shape_case(f"small:4x{frames}").frames == frames for frames in range(2, 4000))
    assert (bench_speed.CASES["full"].frames, bench_speed.CASES["small"].frames) == (1001, 501)
    batch = bench_speed.make_batch(bench_speed.shape_case("tiny:2x130"), 64, np.random.default_rng(0))
    assert batch["x"].shape == (2, 1, 161, 192) and batch["lengths"][0] == 130
    for bad in ("huge:4x2048", "small:4", "small:0x100"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench_speed.shape_case(bad)
