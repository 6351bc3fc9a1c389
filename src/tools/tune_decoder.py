"""Grid search for the LM weight ``alpha`` and word bonus ``beta`` on saved network outputs.

The network runs once: ``eval.py --test_manifest VAL.csv --save_output val_out`` pickles its
outputs to ``val_out.bin`` (what the zoo's ``save_output`` was meant for). This tool re-decodes
them for every (alpha, beta) of the grid and reports WER/CER, so tuning costs decoding only::

    python -m src.tools.tune_decoder --saved_output val_out.bin --lm_path lm.arpa \\
        --alpha_range 0 3 --beta_range 0 3 --steps 7 --beam_width 64 --lm_workers 2

Any ``LMConfig`` key (``--beam_width``, ``--cutoff_top_n``, ...) can be set as for eval.py. Tune
on a validation set, then evaluate the chosen values once on the test set.
"""
import argparse
import json
import os
import pickle
import sys
import time
from typing import List, Sequence, Tuple

import numpy as np

from src.config.overrides import parse_with_config
from src.config.schema import eval_tree
from src.decoding.greedy import GreedyDecoder
from src.decoding.select import build_decoder
from src.common.errors import run_main
from src.common.files import atomic_write_text
from src.data.features import SpectParams
from src.data.labels import Labels
from src.evaluation.metrics import ErrorRates
from src.decoding.timestamps import output_frame_seconds


def load_saved_outputs(path: str) -> Tuple[List[np.ndarray], List[int], List[str]]:
    """Rows (T, C), output lengths and reference texts from an ``eval.py --save_output`` pickle."""
    if not os.path.isfile(path) and os.path.isfile(path + ".bin"):
        path += ".bin"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--saved_output {path}: not found (make it with eval.py --save_output NAME)")
    try:
        with open(path, "rb") as fh:
            batches = pickle.load(fh)
        rows, lengths, refs = [], [], []
        for probs, out_lengths, texts in batches:
            for row, length, text in zip(probs, out_lengths, texts):
                rows.append(np.asarray(row[: int(length)]))
                lengths.append(int(length))
                refs.append(str(text))
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise ValueError(f"--saved_output {path}: not an eval.py --save_output file ({err})") from None
    if not rows:
        raise ValueError(f"--saved_output {path}: holds no utterances")
    return rows, lengths, refs


def score(decoder, rows: Sequence[np.ndarray], lengths: Sequence[int], refs: Sequence[str]) -> Tuple[ErrorRates, float]:
    """Corpus error rates of one decoding pass, and its wall time."""
    start = time.perf_counter()
    nbest = decoder.decode(rows, lengths)
    seconds = time.perf_counter() - start
    rates = ErrorRates()
    for ref, hyps in zip(refs, nbest):
        rates.add(ref, hyps[0].text)
    return rates, seconds


def grid(low: float, high: float, steps: int) -> List[float]:
    return [float(v) for v in np.linspace(low, high, steps)] if steps > 1 else [float(low)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--saved_output", required=True, help="pickle written by eval.py --save_output")
    parser.add_argument("--alpha_range", type=float, nargs=2, default=[0.0, 3.0], metavar=("LOW", "HIGH"))
    parser.add_argument("--beta_range", type=float, nargs=2, default=[0.0, 3.0], metavar=("LOW", "HIGH"))
    parser.add_argument("--steps", type=int, default=7, help="grid points per parameter (default 7)")
    parser.add_argument("--result_file", default="", help="JSON of the whole grid (default: <saved_output>.tune.json)")
    args, cfg = parse_with_config(parser, eval_tree(), argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    lm_cfg = dict(cfg.LMConfig, decoder_type="beam")
    if not lm_cfg["lm_path"]:
        parser.error("--lm_path is required: alpha and beta weigh the LM")

    labels = Labels.load(cfg.DataConfig.labels_path)
    rows, lengths, refs = load_saved_outputs(args.saved_output)
    audio_seconds = sum(lengths) * output_frame_seconds(SpectParams.from_config(cfg.DataConfig.SpectConfig))
    greedy, _ = score(GreedyDecoder(labels), rows, lengths, refs)
    print(f"{len(rows)} utterances ({audio_seconds:.0f} s of audio); greedy: WER {greedy.wer:.3f} CER {greedy.cer:.3f}")
    points = []
    with build_decoder(labels, lm_cfg) as decoder:
        print(f"searching {args.steps} x {args.steps} (alpha, beta) with {decoder.describe()}")
        for alpha in grid(*args.alpha_range, args.steps):
            for beta in grid(*args.beta_range, args.steps):
                decoder.set_weights(alpha, beta)
                rates, seconds = score(decoder, rows, lengths, refs)
                points.append({"alpha": alpha, "beta": beta, "wer": rates.wer, "cer": rates.cer,
                               "decode_seconds": seconds})
                print(f"alpha {alpha:6.3f} beta {beta:6.3f}: WER {rates.wer:7.3f} CER {rates.cer:7.3f} "
                      f"({seconds / audio_seconds:.4f} s per second of audio)", flush=True)
    best = min(points, key=lambda p: (p["wer"], p["cer"]))
    print(f"best: --alpha {best['alpha']:g} --beta {best['beta']:g}  WER {best['wer']:.3f} CER {best['cer']:.3f} "
          f"(greedy WER {greedy.wer:.3f})")
    result_file = args.result_file or os.path.splitext(args.saved_output)[0] + ".tune.json"
    atomic_write_text(result_file, json.dumps({"saved_output": args.saved_output, "lm_path": lm_cfg["lm_path"],
                             "greedy": {"wer": greedy.wer, "cer": greedy.cer}, "best": best, "grid": points}, indent=1))
    print(f"grid written to {result_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
