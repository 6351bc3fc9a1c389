"""Check an exported MINDIR against its checkpoint: same inputs, same outputs.

``python -m src.tools.check_export --ckpt X.ckpt --mindir X.mindir`` runs both on random batches
whose rows have different lengths (padding included) and prints the largest differences; it exits
non-zero when they exceed the tolerance. A fixed-shape MINDIR is checked at its own shape; a dynamic
one (``export.py --dynamic true``) at several batch sizes and lengths (``--batch_size`` and
``--input_frames`` add one).
"""
import argparse
import sys
from typing import List, Optional, Sequence, Tuple

import src  # noqa: F401
import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from src.common.cpu_isa import choose_onednn_isa, mindir_has_conv2d
from src.common.errors import run_main
from src.data.labels import DEFAULT_LABELS_PATH, Labels
from src.inference.predictor import load_predictor, mindir_input_shape
from src.model.geometry import num_classes

DYNAMIC_SHAPES = ((1, 57), (3, 160), (2, 311))  # (batch, frames) a dynamic MINDIR is checked at


def row_lengths(batch: int, frames: int) -> List[int]:
    """The first row fills ``frames``, the others are shorter: their tails are padding."""
    return [max(1, frames - (row * frames) // (batch + 1)) for row in range(batch)]


def check_shapes(exported: Tuple[Optional[int], ...], batch: Optional[int] = None,
                 frames: Optional[int] = None) -> List[Tuple[int, int]]:
    """(batch, frames) to check: a fixed MINDIR's own (``batch`` / ``frames`` must agree with it),
    a dynamic one's ``DYNAMIC_SHAPES`` and the one asked for."""
    exported_batch, exported_frames = exported[0], exported[3]
    for asked, fixed, name in ((batch, exported_batch, "--batch_size"), (frames, exported_frames, "--input_frames")):
        if asked is not None and fixed is not None and asked != fixed:
            raise ValueError(f"{name} {asked}: the MINDIR was exported with {fixed}")
    if exported_batch is not None and exported_frames is not None:
        return [(exported_batch, exported_frames)]
    shapes = [(exported_batch or b, exported_frames or f) for b, f in DYNAMIC_SHAPES]
    if batch is not None or frames is not None:
        shapes.append((batch or exported_batch or 2, frames or exported_frames or 200))
    return shapes


def compare_mindir(ckpt: str, mindir: str, shapes: Optional[Sequence[Tuple[int, int]]] = None,
                   labels_path: str = DEFAULT_LABELS_PATH, seed: int = 0) -> List[Tuple[Tuple[int, int], float, float]]:
    """Per (batch, frames): (shape, max |probability difference|, max |length difference|) between the
    MINDIR and the checkpoint's network on random spectrograms of ``row_lengths``, zero-padded.
    ``shapes`` defaults to :func:`check_shapes`'s."""
    exported = mindir_input_shape(mindir)
    n_bins = exported[2]
    choose_onednn_isa(direct_conv=mindir_has_conv2d(mindir), why=f"the MINDIR {mindir}")
    graph = nn.GraphCell(ms.load(mindir))
    predictor, _, _ = load_predictor(ckpt, num_classes(Labels.load(labels_path)), n_bins=n_bins)
    rng = np.random.default_rng(seed)
    results = []
    for batch, frames in shapes or check_shapes(exported):
        lengths = np.array(row_lengths(batch, frames), np.int32)
        x = rng.standard_normal((batch, 1, n_bins, frames)).astype(np.float32)
        x *= np.arange(frames) < lengths[:, None, None, None]  # zero past each row's length, as batching pads
        p1, l1 = graph(Tensor(x), Tensor(lengths))
        p2, l2 = predictor(Tensor(x), Tensor(lengths))
        results.append(((batch, frames), float(np.abs(p1.asnumpy() - p2.asnumpy()).max()),
                        float(np.abs(l1.asnumpy() - l2.asnumpy()).max())))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--mindir", required=True)
    parser.add_argument("--batch_size", type=int, default=None, help="a fixed MINDIR: the batch size it was "
                        "exported with (default: read from it); a dynamic one: check this batch size too")
    parser.add_argument("--input_frames", type=int, default=None, help="a fixed MINDIR: the frames it was "
                        "exported with (default: read from it); a dynamic one: check this length too")
    parser.add_argument("--labels_path", default=DEFAULT_LABELS_PATH, help="labels of the checkpoint's output layer")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    if any(value is not None and value < 1 for value in (args.batch_size, args.input_frames)):
        parser.error("--batch_size and --input_frames must be >= 1")
    ms.set_context(mode=ms.GRAPH_MODE)
    shapes = check_shapes(mindir_input_shape(args.mindir), args.batch_size, args.input_frames)
    results = compare_mindir(args.ckpt, args.mindir, shapes, args.labels_path)
    for (batch, frames), diff, len_diff in results:
        print(f"  batch {batch}, {frames} frames (lengths {row_lengths(batch, frames)}): max |prob diff| {diff:.2e}, "
              f"length diff {len_diff:g}")
    diff, len_diff = max(r[1] for r in results), max(r[2] for r in results)
    ok = diff <= args.tolerance and len_diff == 0
    print(f"MINDIR vs checkpoint: max |prob diff| {diff:.2e}, length diff {len_diff:g} -> {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
