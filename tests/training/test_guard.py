"""Non-finite steps are skipped and counted, undo batch norm's forward-pass update, and too many in a row stop."""
import subprocess
import sys

import numpy as np

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor

import config
from src.model.deepspeech2 import DeepSpeechModel, NetWithLoss
from src.training.lr_schedule import get_lr
from src.training.guard import NonFiniteGuard
from src.training.step import TrainStep, build_optimizer
from tests.helpers import ROOT



def test_counts_skips_and_stops_after_the_limit_in_a_row():
    guard = NonFiniteGuard(3)
    assert guard.update(float("nan"), 1.0, "epoch 1 step 1") and guard.update(2.0, float("inf"), "epoch 1 step 2")
    assert not guard.update(2.0, 1.0, "epoch 1 step 3")  # a good step resets the run, not the total
    assert guard.update(float("nan"), 0.0, "a") and guard.update(float("nan"), 0.0, "b") and not guard.diverged
    guard.update(float("inf"), 0.0, "epoch 2 step 1")
    assert guard.diverged and guard.skipped == 5
    message = str(guard.error("/c/DeepSpeech-2_1.ckpt"))
    assert message.startswith("3 steps in a row had a non-finite loss or gradient (loss inf, gradient norm 0.0, "
                              "last at epoch 2 step 1); training stopped, saved /c/DeepSpeech-2_1.ckpt")
    never = NonFiniteGuard(0)
    assert all(never.update(float("nan"), 0.0, "x") for _ in range(50)) and not never.diverged


def test_a_nan_batch_leaves_weights_and_batch_norm_statistics_as_they_were():
    """Run in a child process: once a NaN has gone through a training graph, MindSpore 2.10 can hand
    NaN-filled working memory to later graphs of the same process (see src/training/guard.py), which
    would break the tests that run after this one."""
    proc = subprocess.run([sys.executable, "-c", "from tests.training.test_guard import nan_batch_check; nan_batch_check()"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def nan_batch_check():
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    net = DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl="direct")  # the guard is under test: fast compile
    step = TrainStep(NetWithLoss(net), build_optimizer(net, config.train_config.OptimConfig,
                                                       get_lr(1e-2, 1, 4, "constant")))
    guard = NonFiniteGuard(5, step)
    assert {p.name for p in guard.state} == {"conv.bn1.moving_mean", "conv.bn1.moving_variance",
                                             "conv.bn2.moving_mean", "conv.bn2.moving_variance"}
    x = np.random.default_rng(0).standard_normal((2, 1, 161, 32)).astype(np.float32)
    labels = Tensor(np.array([[1, 2, 28], [3, 28, 28]], np.int32))
    lengths, weights = Tensor(np.array([32, 30], np.int32)), Tensor(np.ones(2, np.float32))
    step.set_train(True)
    step(Tensor(x), lengths, labels, weights)  # one real update first
    net.set_train(False)
    output = net(Tensor(x), lengths)[0].asnumpy()
    before = {p.name: p.asnumpy().copy() for p in step.get_parameters()}
    bad = x.copy()
    bad[1, 0, 5, 5] = np.nan
    step.set_train(True)
    guard.before_step()
    loss, norm = step(Tensor(bad), lengths, labels, weights)
    assert guard.update(float(loss.asnumpy()), float(norm.asnumpy()), "epoch 1 step 2") and guard.skipped == 1
    for param in step.get_parameters():
        np.testing.assert_array_equal(param.asnumpy(), before[param.name], err_msg=param.name)
    net.set_train(False)  # inference reads the batch-norm statistics: the restored ones, in the graph too
    np.testing.assert_allclose(net(Tensor(x), lengths)[0].asnumpy(), output, rtol=1e-6, atol=1e-7)
