"""Gradient accumulation against the large batch it stands for: time per update, side by side in one run.

``--accum_grad K`` trains an effective batch B with graphs of batch B / K (src/training/step.py): far less
memory (``python -m benchmarks.bench_memory --accum_grad K``), but K smaller MatMuls per update use the cores
less well. This times both on the same random LibriSpeech-length batches: one update of batch B
(``TrainStep``) and K batches of B / K plus their update (``AccumulatingTrainStep``), the small model as the
recipe trains it, after one untimed update each (graph compilation). Peak memory is ``bench_memory``'s job:
here both graphs live in one process.

Usage (from the project root):
    python -m benchmarks.bench_accum                          # B 16 = 4 x 4 at 2048 frames (20.5 s)
    python -m benchmarks.bench_accum --batch 16 --accum_grad 2,4 --width 1024 --updates 5
"""
import argparse
import statistics
import time
from typing import Callable, List

from benchmarks.bench_memory import random_batch

FRAMES_PER_SECOND = 100  # 10 ms hop


def time_updates(update: Callable[[], None], count: int) -> List[float]:
    """Seconds of ``count`` calls of ``update`` after one untimed call (compilation)."""
    update()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        update()
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_size", default="small", choices=["tiny", "small", "medium", "full"])
    parser.add_argument("--batch", type=int, default=16, help="the effective batch B")
    parser.add_argument("--accum_grad", default="4", help="K values, comma-separated; each must divide B")
    parser.add_argument("--width", type=int, default=2048, help="padded width (frames)")
    parser.add_argument("--updates", type=int, default=3, help="timed updates per case (median reported)")
    args = parser.parse_args(argv)
    ks = [int(k) for k in args.accum_grad.split(",")]
    bad = [k for k in ks if k < 1 or args.batch % k]
    if bad:
        parser.error(f"--accum_grad {bad[0]} does not divide --batch {args.batch}")

    import src  # noqa: F401  (before MindSpore, as train.py)
    import mindspore as ms
    import numpy as np

    import config
    from src.config.overrides import apply_model_size, apply_overrides
    from src.model.deepspeech2 import build_model
    from src.training.step import build_train_step

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    cfg = apply_overrides(config.train_config, ["--activation", "hardtanh", "--rnn_batch_norm", "true"])
    apply_model_size(cfg, args.model_size)
    label_len = int(args.width * 0.15)
    audio = args.batch * args.width / FRAMES_PER_SECOND  # padded seconds per update
    print(f"{args.model_size} model, effective batch {args.batch} x {args.width} frames ({audio:.0f} s of padded "
          f"audio per update), median of {args.updates} updates after one untimed")
    print("| case | graph batch | s per update | x real time | vs batch {} |".format(args.batch))
    print("| --- | --- | --- | --- | --- |")
    base = None
    for k in [1] + [k for k in ks if k > 1]:
        ms.set_seed(0)
        optim_cfg = apply_overrides(cfg, ["--accum_grad", str(k)]).OptimConfig
        lr = np.full(10 * (args.updates + 1), 1e-4, np.float32)
        step = build_train_step(build_model(cfg.ModelConfig, 29), optim_cfg, lr)
        step.set_train(True)
        rng = np.random.default_rng(0)
        micro = [random_batch(args.batch // k, args.width, label_len, rng) for _ in range(k)]

        def update(step=step, micro=micro, k=k) -> None:
            for inputs in micro:
                loss, _ = step(*inputs)
            if k > 1:
                step.update(ms.Tensor(1.0 / k, ms.float32))
            float(loss.asnumpy())

        seconds = statistics.median(time_updates(update, args.updates))
        base = base or seconds
        name = f"batch {args.batch}" if k == 1 else f"batch {args.batch // k} x --accum_grad {k}"
        print(f"| {name} | {args.batch // k} | {seconds:.2f} | {audio / seconds:.1f} | {seconds / base:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
