"""Memory and time of one conv layer's training graph (forward, input and weight gradients), layer by layer.

Why: the conv front-end is most of the small model's memory per frame, and on the CPU that memory is
mostly index tables that MindSpore's Transpose and broadcasting kernels keep per element for the
graph's lifetime (``src/training/memory_budget.py``). This isolates the layers, so a change to one
shows its own effect: each case runs in a fresh process, and the figure is the peak resident memory
(VmHWM) the compiled graph adds once it has run, then the median of a few steps.

Usage (from the project root):
    python -m benchmarks.bench_conv_memory                            # conv1 and conv2, batch 2, 1024 input frames
    python -m benchmarks.bench_conv_memory --layers conv2 --conv_impl direct,dft --batch 4 --frames 2048
"""
import argparse
import json
import subprocess
import sys
from typing import Dict, List


def _hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def measure(layer_name: str, conv_impl: str, batch: int, frames: int, steps: int) -> Dict:
    """One case, in this process: DS2's conv1 or conv2 (the network's own layer), input for ``frames``
    spectrogram frames (conv2 gets conv1's output length)."""
    import time

    import numpy as np

    import src  # noqa: F401
    import mindspore as ms
    from mindspore import Tensor, nn

    from src.model.deepspeech2 import MaskConv
    from src.model.geometry import DEFAULT_FREQ_BINS, FREQ, TIME

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    ms.set_seed(0)
    convs = MaskConv("hardtanh", conv_impl)
    layer = getattr(convs, layer_name)
    spec = convs.spec1 if layer_name == "conv1" else convs.spec2
    rows, t = DEFAULT_FREQ_BINS, frames
    if layer_name == "conv2":
        rows, t = convs.spec1.out_size(rows, FREQ), convs.spec1.out_size(t, TIME)
    out_shape = (batch, spec.out_channels, spec.out_size(rows, FREQ), spec.out_size(t, TIME))
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((batch, spec.in_channels, rows, t)).astype(np.float32))
    g = Tensor(rng.standard_normal(out_shape).astype(np.float32))

    class Loss(nn.Cell):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def construct(self, inputs, weights):
            return (self.inner(inputs) * weights).sum()

    step = ms.jit(ms.value_and_grad(Loss(layer), grad_position=0, weights=[layer.weight]))
    before = _hwm_mb()
    _, (dx, _) = step(x, g)
    dx.asnumpy()
    added = _hwm_mb() - before
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _, (dx, _) = step(x, g)
        dx.asnumpy()
        times.append(time.perf_counter() - start)
    return {"layer": layer_name, "form": type(layer).__name__, "conv_impl": conv_impl, "batch": batch,
            "frames": frames, "added_mb": added, "median_ms": 1000 * sorted(times)[len(times) // 2]}


def run_case(layer_name: str, conv_impl: str, batch: int, frames: int, steps: int) -> Dict:
    """The case in a fresh process (peak memory is per process)."""
    code = ("import json, sys; from benchmarks.bench_conv_memory import measure; "
            f"print('RESULT ' + json.dumps(measure({layer_name!r}, {conv_impl!r}, {batch}, {frames}, {steps})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"bench_conv_memory: {layer_name} ({conv_impl}) failed:\n{done.stderr[-2000:]}")


def table(rows: List[Dict]) -> str:
    lines = ["| layer | form | batch x frames | graph adds (MB) | fwd+bwd median (ms) |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['layer']} | {r['form']} ({r['conv_impl']}) | {r['batch']} x {r['frames']} | "
                     f"{r['added_mb']:.0f} | {r['median_ms']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="conv1,conv2", help="comma-separated: conv1, conv2")
    parser.add_argument("--conv_impl", default="auto", help="comma-separated: auto, dft, direct")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=1024, help="spectrogram frames (conv2 gets half)")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    layers = [name.strip() for name in args.layers.split(",") if name.strip()]
    for name in layers:
        if name not in ("conv1", "conv2"):
            parser.error(f"--layers: {name!r} is not conv1 or conv2")
    rows = [run_case(name, impl.strip(), args.batch, args.frames, args.steps)
            for name in layers for impl in args.conv_impl.split(",")]
    print(table(rows))


if __name__ == "__main__":
    main()
