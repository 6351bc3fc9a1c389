"""The geometry module's numbers are the network's: derived sizes equal what the real network produces,
and, for the zoo's settings, the zoo's 161 bins, 1312-wide RNN input, 29 classes and time stride 2."""
import numpy as np
import pytest

import config
from src.data.features import SpectParams
from src.data.labels import DEFAULT_LABELS_PATH, Labels
from src.model.geometry import (CONV_LAYERS, DEFAULT_FREQ_BINS, TIME_STRIDE, conv_output_bins, freq_bins, num_classes,
                                output_frames, rnn_input_size)


def test_the_zoo_numbers():
    for cfg in (config.train_config, config.eval_config):
        assert SpectParams.from_config(cfg.DataConfig.SpectConfig).n_bins == DEFAULT_FREQ_BINS == 161
    assert conv_output_bins() == 41 and rnn_input_size() == 1312
    assert num_classes(Labels.load(DEFAULT_LABELS_PATH)) == 29
    assert TIME_STRIDE == 2
    assert [(s.kernel, s.stride, s.padding) for s in CONV_LAYERS] == [((41, 11), (2, 2), (20, 5)),
                                                                      ((21, 11), (2, 1), (10, 5))]


def test_output_frames_is_exact_for_ints_and_arrays_and_follows_the_time_stride():
    frames = np.arange(0, 4000)
    expected = -(-frames // TIME_STRIDE)  # ceil: output frame j starts at input frame TIME_STRIDE * j
    np.testing.assert_array_equal(output_frames(frames), expected)
    assert [output_frames(int(f)) for f in (0, 1, 2, 3, 3500, 3501)] == [0, 1, 1, 2, 1750, 1751]


def test_other_feature_settings_change_only_the_bins():
    narrow = SpectParams(sample_rate=8000)  # 160-point FFT
    assert narrow.n_bins == freq_bins(160) == 81
    assert rnn_input_size(narrow.n_bins) == 32 * 21


@pytest.fixture(scope="module")
def graph_mode():
    import src  # noqa: F401
    import mindspore as ms

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")


@pytest.mark.parametrize("n_bins", [DEFAULT_FREQ_BINS, 81])
def test_the_network_produces_the_derived_sizes(graph_mode, n_bins):
    """Run the real network: its RNN input width, output frames and (exact integer) output lengths are
    the derived ones. (conv_impl dft computes the same map: test_deepspeech2.py.)"""
    import mindspore as ms
    from mindspore import Tensor

    from src.model.deepspeech2 import DeepSpeechModel

    net = DeepSpeechModel(num_classes=7, hidden_size=8, hidden_layers=1, n_bins=n_bins, conv_impl="direct")
    net.set_train(False)
    assert net.RNN.lstms[0].weight_ih_l0.shape[1] == rnn_input_size(n_bins)
    for width in (64, 65):
        lengths = np.array([1, 2, 3, 33, width], np.int32)
        x = Tensor(np.random.default_rng(width).standard_normal((len(lengths), 1, n_bins, width)).astype(np.float32))
        features, conv_lengths = net.conv(x, Tensor(lengths))
        n, channels, bins, frames = features.shape
        assert channels * bins == rnn_input_size(n_bins) and frames == output_frames(width)
        logits, out_lengths = net(x, Tensor(lengths))
        assert logits.shape == (output_frames(width), n, 7)
        assert out_lengths.dtype == ms.int32
        np.testing.assert_array_equal(out_lengths.asnumpy(), output_frames(lengths))
        np.testing.assert_array_equal(conv_lengths.asnumpy(), output_frames(lengths))
