"""Non-finite steps: skipped and counted, and a run that keeps producing them is stopped.

``TrainStep`` already refuses to apply an update whose loss or gradient norm is NaN/inf (one
bad batch must not destroy the weights). A run where that happens step after step has diverged
(learning rate too high, broken data): going on would only burn hours, so after
``TrainingConfig.max_nonfinite_steps`` such steps in a row it stops with a clear message.
"""
import math
from typing import List, Optional

import numpy as np
from mindspore import Tensor, nn


class TrainingDiverged(RuntimeError):
    """Too many non-finite steps in a row; the checkpoints written so far are untouched."""


class NonFiniteGuard:
    """Counts skipped steps; also undoes what a skipped step's forward pass changed.

    Batch norm updates its running statistics in the forward pass, before anyone knows the loss
    is NaN; one bad batch would leave NaN statistics (and a useless model for evaluation) even
    though the weights were protected. Those few values are copied before each step and put back
    when the step is skipped.
    """

    def __init__(self, max_in_a_row: int, cell: Optional[nn.Cell] = None):
        self.max_in_a_row = int(max_in_a_row)  # 0: never stop, only count
        self.skipped = 0
        self.in_a_row = 0
        self.state = [p for p in (cell.get_parameters() if cell is not None else [])
                      if not p.requires_grad and ("moving_mean" in p.name or "moving_variance" in p.name)]
        self.saved: List[np.ndarray] = []

    def before_step(self) -> None:
        self.saved = [p.asnumpy().copy() for p in self.state]

    def update(self, loss: float, grad_norm: float, where: str) -> bool:
        """Record one step; True if it was skipped. Raises TrainingDiverged past the limit."""
        if math.isfinite(loss) and math.isfinite(grad_norm):
            self.in_a_row = 0
            return False
        self.skipped += 1
        self.in_a_row += 1
        for param, value in zip(self.state, self.saved):
            param.set_data(Tensor(value))
        if self.max_in_a_row and self.in_a_row >= self.max_in_a_row:
            raise TrainingDiverged(
                f"{self.in_a_row} steps in a row had a non-finite loss or gradient (loss {loss}, gradient norm "
                f"{grad_norm}, last at {where}); training stopped, earlier checkpoints are kept: lower "
                f"learning_rate, set max_grad_norm, or check the data (max_nonfinite_steps sets this limit)")
        return True
