"""The inference network as MindSpore's own formats: MINDIR (``nn.GraphCell(ms.load(...))`` runs it),
or AIR for Ascend's offline tools.

Dynamic (MINDIR's default): batch and time are declared ``None`` (``declare_dynamic_time``), so one
file takes any batch of any length and transcribe.py feeds each batch at its longest chunk's length.
As in training with a dynamic time axis, a DFT conv2 built by ``conv_impl auto`` becomes the direct
kernel (same weight; ``--conv_impl dft`` keeps the DFT, so the file holds no ``Conv2D``). Fixed:
``[batch, 1, bins, frames]``, the zoo's form, which some Ascend paths need; the network keeps the
conv2 it was built with.
"""
from typing import Optional, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.common.files import atomic_path
from src.model.shapes import declare_dynamic_time

SUFFIXES = {"MINDIR": ".mindir", "AIR": ".air"}


def export_mindspore(predictor: nn.Cell, n_bins: int, file_name: str, file_format: str = "MINDIR",
                     shape: Optional[Tuple[int, int]] = None) -> str:
    """Write ``predictor`` (x [B, 1, bins, T] float32, lengths [B] int32) to ``file_name`` + suffix.

    ``shape`` (batch, frames) fixes the input; None declares batch and time dynamic (this switches
    ``predictor``'s DFT convolutions to the direct kernel). Returns the path written.
    """
    if shape is None:
        declare_dynamic_time(predictor, None, n_bins)
        inputs = predictor.get_inputs()
    else:
        batch, frames = shape
        inputs = (Tensor(np.zeros((batch, 1, n_bins, frames), np.float32)),
                  Tensor(np.full((batch,), frames, np.int32)))
    path = file_name + SUFFIXES[file_format]
    with atomic_path(path) as tmp:  # ends in the suffix, so ms.export adds nothing
        ms.export(predictor, *inputs, file_name=tmp, file_format=file_format)
    return path
