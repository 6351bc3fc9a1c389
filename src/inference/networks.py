"""The MindSpore networks transcribe.py runs: a checkpoint's (dynamic time axis) or an exported MINDIR
(dynamic batch and time, or the fixed shape it was exported with).

Each answers ``network(x, lengths) -> (probabilities, output lengths)`` with ``batch_size``,
``max_frames`` and ``description``, as ``OnnxNetwork`` (src/inference/onnx_predictor.py) does.
"""
from typing import Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.common.cpu_isa import choose_onednn_isa, mindir_has_conv2d
from src.data.features import SpectParams, mismatched_bins_hint
from src.inference.predictor import load_predictor, mindir_input_shape
from src.model.shapes import declare_dynamic_time


class CheckpointNetwork:
    """The inference network of a checkpoint, with a dynamic time axis: one graph for every chunk length.

    (With ``conv_impl`` auto a dynamic time axis runs conv2 as the direct kernel; conv1 stays banded.)
    """

    def __init__(self, path: str, num_classes: int, activation: str, batch_size: int, features: SpectParams,
                 conv_impl: str = "auto"):
        self.predictor, hidden, layers = load_predictor(path, num_classes, activation, conv_impl, features=features)
        declare_dynamic_time(self.predictor, batch_size, features.n_bins)
        self.batch_size = batch_size
        self.max_frames: Optional[int] = None
        self.description = f"{layers} x BiLSTM-{hidden} from {path}"

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        probs, out_lengths = self.predictor(Tensor(x), Tensor(lengths))
        return probs.asnumpy(), out_lengths.asnumpy()


class MindirNetwork:
    """An exported MINDIR (``ms.load`` + ``nn.GraphCell``).

    A dynamic file (``export.py --dynamic true``) takes any batch and length: ``batch_size`` chunks
    per call, each batch as long as its longest chunk. A fixed file's batch and frames are its own
    (``batch_size`` does not apply): chunks are cut to fit and padded to its frames.
    """

    def __init__(self, path: str, n_bins: int, batch_size: int = 4):
        shape = mindir_input_shape(path)
        if len(shape) != 4 or shape[2] != n_bins:
            raise ValueError(f"--mindir {path}: input shape {_shown(shape)} is not [batch, 1, {n_bins}, frames]"
                             f"{mismatched_bins_hint(shape[2] if len(shape) == 4 else None)}")
        choose_onednn_isa(direct_conv=mindir_has_conv2d(path), why=f"the MINDIR {path}")
        self.graph = nn.GraphCell(ms.load(path))
        self.batch_size = shape[0] or batch_size
        self.max_frames: Optional[int] = shape[3]
        self.description = f"MINDIR {path}, input {_shown(shape)}"

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        probs, out_lengths = self.graph(Tensor(x), Tensor(lengths))
        return probs.asnumpy(), out_lengths.asnumpy()


def _shown(shape: Sequence[Optional[int]]) -> str:
    """A dynamic file's ``(None, 1, 161, None)`` as ``[batch, 1, 161, frames]``; a fixed one's as it is."""
    names = {0: "batch", 3: "frames"}
    return "[" + ", ".join(names.get(i, "?") if d is None else str(d) for i, d in enumerate(shape)) + "]"
