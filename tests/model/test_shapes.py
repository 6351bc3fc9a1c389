import numpy as np

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor

import config
from src.model.deepspeech2 import DeepSpeechModel, NetWithLoss, PredictWithSoftmax
from src.training.lr_schedule import get_lr
from src.model.shapes import declare_dynamic_time, free_compiled_graphs, padded_width_range, padded_widths
from src.training.step import TrainStep, build_optimizer


def test_padded_widths_counts_the_possible_shapes():
    assert padded_widths([30, 60, 64], 64) == 1
    assert padded_widths([30, 200], 64) == 4
    assert padded_widths([100, 1000], 512) == 2
    assert padded_widths([100, 1000], 64, stretch=1 / 0.9) > padded_widths([100, 1000], 64)
    assert list(padded_width_range([100, 700, 1731], 512)) == [512, 1024, 1536, 2048]
    assert list(padded_width_range([], 512)) == []


def test_a_released_graph_is_recompiled_on_the_next_call_with_the_same_outputs():
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    ms.set_seed(0)
    predictor = PredictWithSoftmax(DeepSpeechModel(hidden_size=8, hidden_layers=2))
    predictor.set_train(False)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 161, 48)).astype(np.float32))
    lengths = Tensor(np.array([48, 30], np.int32))
    first = predictor(x, lengths)[0].asnumpy()
    assert len(predictor.compile_cache) == 1
    free_compiled_graphs(predictor)
    assert not predictor.compile_cache
    np.testing.assert_array_equal(predictor(x, lengths)[0].asnumpy(), first)
    assert len(predictor.compile_cache) == 1


def test_dynamic_time_axis_trains_and_predicts_several_widths():
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    ms.set_seed(0)
    net = DeepSpeechModel(hidden_size=8, hidden_layers=2, rnn_batch_norm=True)
    step = TrainStep(NetWithLoss(net), build_optimizer(net, config.train_config.OptimConfig,
                                                       get_lr(1e-3, 1, 4)), 400.0, 1.0)
    declare_dynamic_time(step, 2, 161, 4)
    labels = Tensor(np.array([[1, 2, 28, 28], [3, 28, 28, 28]], np.int32))
    for width in (32, 48, 80):
        x = Tensor(np.random.default_rng(width).standard_normal((2, 1, 161, width)).astype(np.float32))
        loss, _ = step(x, Tensor(np.array([width, width - 10], np.int32)), labels, Tensor(np.ones(2, np.float32)))
        assert np.isfinite(loss.asnumpy())
    predictor = PredictWithSoftmax(net)
    predictor.set_train(False)
    declare_dynamic_time(predictor, 2, 161)
    for width in (40, 72):
        probs, lengths = predictor(Tensor(np.zeros((2, 1, 161, width), np.float32)),
                                   Tensor(np.array([width, 20], np.int32)))
        assert probs.shape == (2, (width + 1) // 2, 29) and list(lengths.asnumpy()) == [(width + 1) // 2, 10]
