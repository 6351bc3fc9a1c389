"""The training step fixes the zoo's silent bugs: LR schedule applied, loss scale symmetric, clipping."""
import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor

import config
from src.config.overrides import apply_overrides
from src.model.deepspeech2 import DeepSpeechModel, NetWithLoss
from src.training.lr_schedule import get_lr
from src.training.step import AccumulatingTrainStep, TrainStep, build_optimizer


@pytest.fixture(scope="module", autouse=True)
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")


def batch():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 1, 161, 32)).astype(np.float32))
    lengths = Tensor(np.array([32, 20], np.int32))
    labels = np.full((2, 4), 28, np.int32)
    labels[0, :3] = [1, 2, 3]
    labels[1, :2] = [5, 5]
    return x, lengths, Tensor(labels), Tensor(np.ones(2, np.float32))


def make_step(lr, step_type=TrainStep, **optim):
    ms.set_seed(7)
    # the step's arithmetic does not depend on how the convs are computed; the direct kernel's graph compiles in
    # ~2 s where the MatMul convs' takes ~9 s (tests/model compares the two)
    net = DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl="direct")
    cfg = apply_overrides(config.train_config, [f"--{k}={v}" for k, v in optim.items()])
    opt = build_optimizer(net, cfg.OptimConfig, lr)
    return net, opt, step_type(NetWithLoss(net), opt, float(cfg.OptimConfig.max_grad_norm),
                               float(cfg.OptimConfig.loss_scale))


def weights(net):
    return [p.asnumpy().copy() for p in net.trainable_params()]


def test_learning_rate_array_reaches_the_optimizer():
    """A schedule of zeros after step 1 must freeze the weights: the LR array is really used."""
    lr = np.array([1e-2, 0.0, 0.0], np.float32)
    net, opt, step = make_step(lr)
    data = batch()
    before = weights(net)
    step(*data)
    after_one = weights(net)
    step(*data)
    after_two = weights(net)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, after_one))
    assert all(np.array_equal(a, b) for a, b in zip(after_one, after_two))
    assert int(opt.global_step.asnumpy()[0]) == 2


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_loss_scale_does_not_change_the_update(optimizer):
    lr = get_lr(1e-2, 1, 3, "constant")
    results = []
    for scale in (1, 1024):
        net, _, step = make_step(lr, optimizer=optimizer, loss_scale=scale)
        for _ in range(3):
            step(*batch())
        results.append(weights(net))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_loss_goes_down_and_clipping_bounds_the_update():
    lr = get_lr(3e-3, 1, 30, "constant")
    _, _, step = make_step(lr, max_grad_norm=1e-3)
    losses = [float(step(*batch())[0].asnumpy()) for _ in range(30)]
    assert losses[-1] < losses[0]
    _, _, free = make_step(lr, max_grad_norm=0)
    free_losses = [float(free(*batch())[0].asnumpy()) for _ in range(30)]
    assert free_losses[-1] < losses[-1]  # a tiny clip norm slows learning: clipping is applied


def test_zero_weight_rows_add_nothing_to_the_loss():
    """Filler rows (weight 0) keep the batch shape fixed without counting (inference-mode BN)."""
    ms.set_seed(3)
    loss_net = NetWithLoss(DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl="direct"))
    loss_net.set_train(False)
    x, lengths, labels, _ = batch()
    both = float(loss_net(x, lengths, labels, Tensor(np.array([1.0, 0.0], np.float32))).asnumpy())
    alone = float(loss_net(Tensor(x.asnumpy()[:1]), Tensor(lengths.asnumpy()[:1]), Tensor(labels.asnumpy()[:1]),
                           Tensor(np.ones(1, np.float32))).asnumpy())
    assert both == pytest.approx(alone, rel=1e-5)


def test_accumulating_two_halves_makes_the_whole_batch_update():
    """accum_grad 2 over the batch's two utterances = one step on the whole batch (SGD: the update is linear
    in the gradient; the network is not in training mode, so batch norm does not see the batch size)."""
    lr = get_lr(1e-2, 1, 2, "constant")
    net, _, whole = make_step(lr, optimizer="sgd")
    for _ in range(2):
        whole(*batch())
    expected = weights(net)

    net, opt, step = make_step(lr, AccumulatingTrainStep, optimizer="sgd")
    before = weights(net)
    halves = [tuple(t[i:i + 1] for t in batch()) for i in (0, 1)]
    for update in range(2):
        step(*halves[0])
        if update == 0:  # a micro-batch alone changes no weight, only the buffers
            assert all(np.array_equal(a, b) for a, b in zip(before, weights(net)))
            assert any(np.abs(a.asnumpy()).max() > 0 for a in step.accum)
        step(*halves[1])
        norm = float(step.update(Tensor(0.5, ms.float32)).asnumpy())
        assert np.isfinite(norm) and norm > 0
        assert all(not a.asnumpy().any() for a in step.accum)  # emptied for the next update
    assert int(opt.global_step.asnumpy()[0]) == 2  # the LR array is indexed by updates, not batches
    assert all(p.name.startswith("accum.") for p in step.accum)
    for a, b in zip(weights(net), expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_non_finite_micro_batch_adds_nothing():
    lr = get_lr(1e-2, 1, 1, "constant")
    _, _, step = make_step(lr, AccumulatingTrainStep, optimizer="sgd")
    x, lengths, labels, w = batch()
    loss, norm = step(Tensor(np.full(x.shape, np.nan, np.float32)), lengths, labels, w)
    assert not np.isfinite(float(norm.asnumpy()))
    assert all(not a.asnumpy().any() for a in step.accum)
