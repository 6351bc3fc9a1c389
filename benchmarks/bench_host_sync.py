"""What reading the step's results on the host every step costs, side by side in one process.

The trainer's non-finite guard (src/training/guard.py) copies the batch-norm running statistics
to the host before every step and reads the loss and gradient norm after it, so that a NaN/inf
step can be undone and counted. This measures the same training step two ways, on the same
network, batch and machine load (blocks of ``--block`` steps, the two ways taking turns):

- ``every step``: as the trainer runs it, guard before and after each step, loss line at the
  block's last step (a log step when ``log_interval`` equals ``--block``);
- ``log steps only``: nothing read until the block's last step, the least any scheme that keeps
  the results on the device could read.

It also times the guard's host work alone (statistics copy + two scalar reads). Medians are
reported; on the CPU the graph call returns when the step is done, so a read finds its value ready.

Usage (from the project root, with the venv active):
    python -m benchmarks.bench_host_sync                             # tiny and small models
    python -m benchmarks.bench_host_sync --cases tiny --blocks 10 --block 10
"""
import argparse
import copy
import os
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import numpy as np

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor

import config
from src.config.overrides import apply_model_size, apply_overrides
from src.model.deepspeech2 import build_model
from src.training.guard import NonFiniteGuard
from src.training.step import TrainStep, build_train_step


@dataclass(frozen=True)
class Case:
    model_size: str
    batch_size: int
    seconds: float
    rnn_batch_norm: bool  # more running statistics for the guard to copy


CASES = {"tiny": Case("tiny", 4, 1.0, False), "small": Case("small", 8, 3.0, True)}


def make_batch(case: Case, rng: np.random.Generator) -> List[Tensor]:
    """(features [B, 1, 161, T], lengths [B], labels [B, L], weights [B]) of ``case.seconds`` of noise."""
    frames = 1 + int(case.seconds * 100)
    width = -(-frames // 32) * 32
    x = np.zeros((case.batch_size, 1, 161, width), np.float32)
    x[..., :frames] = rng.standard_normal((case.batch_size, 1, 161, frames))
    label_len = max(int(case.seconds * 15), 2)
    labels = np.full((case.batch_size, label_len), 28, np.int32)
    labels[:, :label_len - 1] = rng.integers(0, 28, (case.batch_size, label_len - 1))
    return [Tensor(x), Tensor(np.full(case.batch_size, frames, np.int32)), Tensor(labels),
            Tensor(np.ones(case.batch_size, np.float32))]


def build_step(case: Case, steps: int) -> TrainStep:
    cfg = copy.deepcopy(config.train_config)
    apply_model_size(cfg, case.model_size)
    cfg = apply_overrides(cfg, ["--rnn_batch_norm", str(case.rnn_batch_norm)])
    ms.set_seed(0)
    step = build_train_step(build_model(cfg.ModelConfig, 29), cfg.OptimConfig, np.full(steps, 1e-4, np.float32))
    step.set_train(True)
    return step


def ways(step: TrainStep, guard: NonFiniteGuard, inputs: List[Tensor], block: int) -> Dict[str, Callable[[], float]]:
    """The two ways of running ``block`` steps; each returns the last step's loss (read on the host)."""
    def every_step() -> float:
        for index in range(block):
            guard.before_step()
            loss, norm = step(*inputs)
            guard.update(float(loss.asnumpy()), float(norm.asnumpy()), f"step {index}")
        return float(loss.asnumpy())

    def log_steps_only() -> float:
        for _ in range(block):
            loss, norm = step(*inputs)
        float(norm.asnumpy())
        return float(loss.asnumpy())

    return {"every step": every_step, "log steps only": log_steps_only}


def host_work(step: TrainStep, guard: NonFiniteGuard, inputs: List[Tensor], repeats: int) -> float:
    """Median seconds of the guard's host work around one step, the step itself not counted."""
    loss, norm = step(*inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        guard.before_step()
        guard.update(float(loss.asnumpy()), float(norm.asnumpy()), "timing")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(case: Case, blocks: int, block: int) -> Tuple[Dict[str, float], float, int]:
    """Median seconds per step of each way, the host work per step, and the statistics' value count."""
    step = build_step(case, (2 * blocks + 4) * block + 1000)
    guard = NonFiniteGuard(0, step)
    inputs = make_batch(case, np.random.default_rng(0))
    runs = ways(step, guard, inputs, block)
    for fn in runs.values():  # compile and warm up
        fn()
    per_step: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(blocks):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            per_step[name].append((time.perf_counter() - start) / block)
    values = sum(int(np.prod(p.shape)) for p in guard.state)
    return {name: statistics.median(t) for name, t in per_step.items()}, host_work(step, guard, inputs, 50), values


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="tiny,small", help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--blocks", type=int, default=6, help="timed blocks per way")
    parser.add_argument("--block", type=int, default=5, help="steps per block (a log_interval)")
    args = parser.parse_args(argv)
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    print(f"{'case':<32} {'every step':>12} {'log steps only':>15} {'difference':>12}   guard host work per step")
    for name in args.cases.split(","):
        case = CASES[name]
        medians, host, values = measure(case, args.blocks, args.block)
        every, only = medians["every step"], medians["log steps only"]
        label = (f"{case.model_size}{' +RNN BN' if case.rnn_batch_norm else ''}, batch {case.batch_size} x "
                 f"{case.seconds:g} s")
        print(f"{label:<32} {every * 1e3:>9.1f} ms {only * 1e3:>12.1f} ms {(every - only) * 1e3:>+9.1f} ms   "
              f"{host * 1e6:.0f} us = {host / every:.4%} of a step ({values} statistics)", flush=True)
    print(f"medians of {args.blocks} blocks of {args.block} steps per way, taking turns; "
          f"MindSpore {ms.__version__}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
