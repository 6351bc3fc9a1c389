import numpy as np
import pytest

from src.training.lr_schedule import get_lr, per_batch, updates_per_epoch


def test_zoo_schedule_constant_then_anneal():
    lr = get_lr(3e-4, total_epochs=4, steps_per_epoch=2, schedule="zoo", anneal=1.1)
    np.testing.assert_allclose(lr, [3e-4, 3e-4, 3e-4, 3e-4, 3e-4, 3e-4, 3e-4 / 1.1, 3e-4 / 1.1], rtol=1e-6)


def test_anneal_every_epoch():
    lr = get_lr(1.0, 3, 1, "anneal", 2.0)
    np.testing.assert_allclose(lr, [1.0, 0.5, 0.25])


def test_warmup_then_cosine():
    lr = get_lr(1.0, 1, 10, "cosine", warmup_steps=2)
    assert lr[0] == pytest.approx(0.5) and lr[1] == pytest.approx(1.0)
    assert lr[2] == pytest.approx(1.0) and np.all(np.diff(lr[2:]) <= 0) and lr[-1] < 0.05


def test_bad_values_are_errors():
    with pytest.raises(ValueError, match="lr_schedule"):
        get_lr(1e-3, 1, 1, "linear")
    with pytest.raises(ValueError, match="learning_rate"):
        get_lr(-1e-3, 1, 1)


def test_with_accumulation_the_schedule_counts_updates_and_each_batch_sees_its_update_rate():
    assert [updates_per_epoch(steps, 4) for steps in (1, 4, 5, 8)] == [1, 1, 2, 2]
    lr = get_lr(1.0, 2, updates_per_epoch(5, 2), "anneal", anneal=2.0)  # 3 updates per epoch
    assert lr.tolist() == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    lr = np.arange(6, dtype=np.float32)
    assert per_batch(lr, 5, 2).tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 4, 5]  # batch 5 alone makes update 3
    assert per_batch(lr, 6, 1) is lr
