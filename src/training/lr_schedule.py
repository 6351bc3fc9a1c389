"""Per-step learning rates, computed once in NumPy and handed to the optimiser.

The zoo computed its schedule and never passed it to Adam; here the array *is* the optimiser's
learning rate, indexed by the optimiser's own global step (restored on resume).
"""
import math

import numpy as np

from src.config.schema import LR_SCHEDULES as SCHEDULES


def get_lr(lr_init: float, total_epochs: int, steps_per_epoch: int, schedule: str = "zoo",
           anneal: float = 1.1, warmup_steps: int = 0) -> np.ndarray:
    """float32 array with one learning rate per training step.

    zoo:      constant for the first half of the epochs, then divided by ``anneal`` each epoch
    anneal:   divided by ``anneal`` after every epoch (deepspeech.pytorch V2.1)
    cosine:   cosine from lr_init down to 0 over all steps
    constant: lr_init throughout
    A linear warm-up over ``warmup_steps`` is applied on top of any of them.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"OptimConfig.lr_schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}")
    if lr_init <= 0:
        raise ValueError(f"OptimConfig.learning_rate must be > 0, got {lr_init}")
    total = total_epochs * steps_per_epoch
    epoch = np.arange(total) // max(steps_per_epoch, 1)
    if schedule == "zoo":
        half = total_epochs // 2
        lr = lr_init / anneal ** np.maximum(epoch - half, 0)
    elif schedule == "anneal":
        lr = lr_init / anneal ** epoch
    elif schedule == "cosine":
        span = max(total - warmup_steps, 1)
        pos = np.clip(np.arange(total) - warmup_steps, 0, None)
        lr = 0.5 * lr_init * (1 + np.cos(math.pi * pos / span))
    else:
        lr = np.full(total, lr_init)
    if warmup_steps > 0:
        ramp = np.minimum((np.arange(total) + 1) / warmup_steps, 1.0)
        lr = lr * ramp
    return lr.astype(np.float32)


def updates_per_epoch(steps_per_epoch: int, accum_grad: int = 1) -> int:
    """Optimiser updates in an epoch of ``steps_per_epoch`` batches, ``accum_grad`` batches per update
    (an epoch's last update takes the batches left over, so no update spans two epochs)."""
    return -(-steps_per_epoch // max(accum_grad, 1))


def per_batch(lr: np.ndarray, steps_per_epoch: int, accum_grad: int = 1) -> np.ndarray:
    """The learning rate each batch trains with, from the per-update array ``lr`` (the run log's view)."""
    if accum_grad <= 1:
        return lr
    updates = updates_per_epoch(steps_per_epoch, accum_grad)
    epochs = len(lr) // max(updates, 1)
    return np.concatenate([np.repeat(lr[e * updates:(e + 1) * updates], accum_grad)[:steps_per_epoch]
                           for e in range(epochs)])
