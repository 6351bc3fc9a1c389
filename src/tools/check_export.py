"""Check an exported MINDIR against its checkpoint: same inputs, same outputs.

``python -m src.tools.check_export --ckpt X.ckpt --mindir X.mindir`` prints the largest difference and
exits non-zero when it exceeds the tolerance. The input shape (batch, bins, frames) is the one the
MINDIR was exported with.
"""
import argparse
import sys
from typing import Optional, Tuple

import src  # noqa: F401
import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.common.errors import run_main
from src.data.labels import DEFAULT_LABELS_PATH, Labels
from src.inference.predictor import load_predictor, mindir_input_shape
from src.model.geometry import num_classes


def compare_mindir(ckpt: str, mindir: str, batch: Optional[int] = None, frames: Optional[int] = None,
                   labels_path: str = DEFAULT_LABELS_PATH, seed: int = 0) -> Tuple[float, float]:
    """(max |probability difference|, max |length difference|) on a random batch of the exported shape
    (``batch`` and ``frames`` default to the MINDIR's)."""
    exported_batch, _, n_bins, exported_frames = mindir_input_shape(mindir)
    batch, frames = batch or exported_batch, frames or exported_frames
    graph = nn.GraphCell(ms.load(mindir))
    predictor, _, _ = load_predictor(ckpt, num_classes(Labels.load(labels_path)), n_bins=n_bins)
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((batch, 1, n_bins, frames)).astype(np.float32))
    lengths = Tensor(np.full((batch,), frames, np.int32))
    p1, l1 = graph(x, lengths)
    p2, l2 = predictor(x, lengths)
    return float(np.abs(p1.asnumpy() - p2.asnumpy()).max()), float(np.abs(l1.asnumpy() - l2.asnumpy()).max())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--mindir", required=True)
    parser.add_argument("--batch_size", type=int, default=None, help="the batch size it was exported with "
                        "(default: read from the MINDIR)")
    parser.add_argument("--input_frames", type=int, default=None, help="the frames it was exported with "
                        "(default: read from the MINDIR)")
    parser.add_argument("--labels_path", default=DEFAULT_LABELS_PATH, help="labels of the checkpoint's output layer")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    ms.set_context(mode=ms.GRAPH_MODE)
    diff, len_diff = compare_mindir(args.ckpt, args.mindir, args.batch_size, args.input_frames, args.labels_path)
    ok = diff <= args.tolerance and len_diff == 0
    print(f"MINDIR vs checkpoint: max |prob diff| {diff:.2e}, length diff {len_diff:g} -> {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
