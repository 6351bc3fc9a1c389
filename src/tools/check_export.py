"""Check an exported MINDIR against its checkpoint: same inputs, same outputs.

``python -m src.tools.check_export --ckpt X.ckpt --mindir X.mindir`` prints the largest difference and
exits non-zero when it exceeds the tolerance.
"""
import argparse
import sys
from typing import Tuple

import src  # noqa: F401
import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.inference.predictor import load_predictor


def compare_mindir(ckpt: str, mindir: str, batch: int = 1, frames: int = 3500, num_classes: int = 29,
                   seed: int = 0) -> Tuple[float, float]:
    """(max |probability difference|, max |length difference|) on a random batch of the exported shape."""
    graph = nn.GraphCell(ms.load(mindir))
    predictor, _, _ = load_predictor(ckpt, num_classes)
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((batch, 1, 161, frames)).astype(np.float32))
    lengths = Tensor(np.full((batch,), frames, np.int32))
    p1, l1 = graph(x, lengths)
    p2, l2 = predictor(x, lengths)
    return float(np.abs(p1.asnumpy() - p2.asnumpy()).max()), float(np.abs(l1.asnumpy() - l2.asnumpy()).max())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--mindir", required=True)
    parser.add_argument("--batch_size", type=int, default=1, help="the batch size it was exported with")
    parser.add_argument("--input_frames", type=int, default=3500, help="the frames it was exported with")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    ms.set_context(mode=ms.GRAPH_MODE)
    diff, len_diff = compare_mindir(args.ckpt, args.mindir, args.batch_size, args.input_frames)
    ok = diff <= args.tolerance and len_diff == 0
    print(f"MINDIR vs checkpoint: max |prob diff| {diff:.2e}, length diff {len_diff:g} -> {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
