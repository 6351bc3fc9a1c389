"""Where the time of our training step goes: each part of the network timed as its own graph.

Each part of one training step (graph mode, the benchmark's shapes) is compiled as its own Cell
from the network's own layers (``build_model``: ``conv.conv1``/``conv.conv2`` with their batch
norms and activation, ``RNN.lstms[i]`` (after ``RNN.norms[i-1]`` with RNN batch norm), ``fc`` with
the CTC loss of ``NetWithLoss``) and timed forward, and forward + backward (``value_and_grad``
w.r.t. its parameters, and w.r.t. its input where the real step propagates into it: every part
but conv1). Also timed: the optimiser update alone (the trainer's optimiser, fixed gradients);
the host work the trainer does around each step (the non-finite guard's batch-norm statistics
copy, the loss and gradient-norm reads: src/training/guard.py); batch assembly
(src/data/batching.py) on the LibriSpeech sample, from the audio and from a warm feature cache.
Then the whole step (the trainer's ``TrainStep``, one graph) against the sum of the parts, so
what the split does not explain is visible: the gradient norm and clipping, the reshapes and
masks between parts, per-graph overhead, and fusion the whole graph gets or loses.

Each part prints its FLOPs (benchmarks/profile_flops.py: as we compute it, and with direct
convolutions), the GFLOP/s it reaches and its roofline: its FLOPs at the fp32 MatMul speed
measured in this process. Issue 17's target: the whole step within 1.5x of its roofline.

Inputs are random, padded frames zeroed, in each part's real shape (the dense kernels' speed does
not depend on the values). A part's output is contracted with a random cotangent to give the
scalar its backward pass starts from (one elementwise pass over the output, included in its
time). Medians of ``--steps`` timed calls after ``--warmup`` untimed ones; a part's two graphs
take turns, the parts run one after another, each graph's memory freed before the next.

Usage (from the project root, with the venv active):
    python -m benchmarks.profile_step                           # full 4 x 10 s, small 16 x 5 s
    python -m benchmarks.profile_step --cases small --steps 1 --warmup 0
    python -m benchmarks.profile_step --cases --shape small:4x2048 --activation hardtanh --rnn_batch_norm
    python -m benchmarks.bench_speed --profile                  # the same, after the PyTorch comparison
"""
import gc
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from benchmarks import bench_speed  # first: it imports src, which sets oneDNN's ISA before MindSpore loads
from benchmarks import profile_flops
import mindspore as ms
from mindspore import Tensor, nn, ops

import config
from src.common.cpu_isa import cpu_flags, describe_isa, isa_in_force
from src.data.batching import BatchSource, make_batches
from src.data.feature_cache import FeatureCache
from src.data.features import SpectParams
from src.data.labels import Labels
from src.model.deepspeech2 import NetWithLoss
from src.model.geometry import CONV_LAYERS, FREQ, TIME
from src.training.guard import NonFiniteGuard
from src.training.step import TrainStep


# ----------------------------------------------------------------------------- the parts as Cells
class ConvBlock(nn.Cell):
    """One block of ``MaskConv``: conv -> BN -> activation -> padded frames zeroed. The last block
    also hands the RNN its time-major (T, N, channels x bins) input, as ``DeepSpeechModel`` does."""

    def __init__(self, conv: nn.Cell, bn: nn.Cell, act: nn.Cell, time_major: bool):
        super().__init__(auto_prefix=False)  # the network's parameter names stay as they are
        self.conv, self.bn, self.act = conv, bn, act
        self.time_major = time_major

    def construct(self, x, mask):
        x = self.act(self.bn(self.conv(x))) * mask
        if self.time_major:
            n, c, f, t = x.shape
            x = x.reshape(n, c * f, t).transpose(2, 0, 1)
        return x


class RNNLayer(nn.Cell):
    """``RNN.lstms[i]``, after ``RNN.norms[i-1]`` when the RNN has batch norm, as ``BatchRNN`` runs it."""

    def __init__(self, lstm: nn.Cell, norm: Optional[nn.Cell]):
        super().__init__(auto_prefix=False)
        self.lstm = lstm
        self.has_norm = norm is not None
        self.norm = norm if norm is not None else nn.Identity()

    def construct(self, x, lengths, mask):
        if self.has_norm:
            x = self.norm(x) * mask
        return self.lstm(x, lengths, mask)


class Head(nn.Cell):
    """The output layer as a network ``NetWithLoss`` can wrap: (RNN output, lengths) -> (logits, lengths)."""

    def __init__(self, network: nn.Cell):
        super().__init__(auto_prefix=False)
        self.fc = network.fc
        self.has_norm = bool(getattr(network, "fc_batch_norm", False))
        self.norm = network.fc_norm if self.has_norm else nn.Identity()

    def construct(self, x, lengths):
        if self.has_norm:
            x = self.norm(x)
        return self.fc(x), lengths


class Contracted(nn.Cell):
    """``part(*inputs) . cotangent`` (the cotangent is the last input): a scalar whose gradient sends
    the cotangent back through the part, as the layers above it would."""

    def __init__(self, part: nn.Cell):
        super().__init__(auto_prefix=False)
        self.part = part

    def construct(self, *inputs):
        return (self.part(*inputs[:-1]) * inputs[-1]).sum()


class ForwardBackward(nn.Cell):
    """(value, gradients) of a scalar Cell w.r.t. its trainable parameters and, if asked, its first input."""

    def __init__(self, scalar: nn.Cell, input_grad: bool):
        super().__init__(auto_prefix=False)
        self.scalar = scalar
        self.weights = ms.ParameterTuple(scalar.trainable_params())
        self.value_and_grad = ms.value_and_grad(scalar, grad_position=0 if input_grad else None, weights=self.weights)

    def construct(self, *inputs):
        return self.value_and_grad(*inputs)


class Update(nn.Cell):
    """The optimiser's update alone, from given gradients."""

    def __init__(self, optimizer: nn.Optimizer):
        super().__init__(auto_prefix=False)
        self.optimizer = optimizer

    def construct(self, grads):
        return self.optimizer(grads)


class MatMul(nn.Cell):
    def construct(self, a, b):
        return ops.matmul(a, b)


@dataclass
class Part:
    key: str  # profile_flops' name of the part
    label: str
    scalar: nn.Cell  # the part's forward pass, reduced to a scalar
    inputs: List[Tensor]
    input_grad: bool  # does the real step propagate into this part's input?
    form: str = ""  # how a conv is computed (profile_flops.DIRECT, BANDED, DFT, or the Cell's class name)
    block: int = 0  # the banded conv's rows per block, the DFT conv's output frames per time block


def conv_form(cell: nn.Cell) -> Tuple[str, int]:
    """(form, block size) of a conv layer, told by what it has (the layers' own modules are not
    imported, so this keeps working while they change): profile_flops' names, else the class name."""
    if isinstance(cell, nn.Conv2d) or getattr(cell, "direct", False):  # DFTConv2d as Conv2D (dynamic axis)
        return profile_flops.DIRECT, 0
    if hasattr(cell, "rows_per_block"):
        return profile_flops.BANDED, int(cell.rows_per_block)
    if hasattr(cell, "time_block"):
        return profile_flops.DFT, int(cell.time_block)
    return type(cell).__name__, 0


def frame_mask(lengths: np.ndarray, frames: int) -> np.ndarray:
    """(N, T) float32, 1 where t < length."""
    return (np.arange(frames)[None, :] < lengths[:, None]).astype(np.float32)


def build_parts(network: nn.Cell, batch: Dict[str, np.ndarray], rng: np.random.Generator) -> List[Part]:
    """The parts of ``network``'s training step, each with random inputs of its real shape."""
    n, _, bins, width = batch["x"].shape
    spec1, spec2 = CONV_LAYERS
    lengths1 = spec1.out_size(batch["lengths"], TIME)
    lengths2 = spec2.out_size(lengths1, TIME)
    frames1, bins1 = spec1.out_size(width, TIME), spec1.out_size(bins, FREQ)
    frames2 = spec2.out_size(frames1, TIME)
    mask1, mask2 = frame_mask(lengths1, frames1), frame_mask(lengths2, frames2)
    rnn_mask = mask2.T[:, :, None]

    def noise(shape, mask=None) -> Tensor:
        value = 0.5 * rng.standard_normal(shape).astype(np.float32)
        return Tensor(value * mask if mask is not None else value)

    conv, rnn = network.conv, network.RNN
    parts = []
    for index, (cell, bn, x, mask, out) in enumerate((
            (conv.conv1, conv.bn1, Tensor(batch["x"]), mask1, (n, spec1.out_channels, bins1, frames1)),
            (conv.conv2, conv.bn2, noise((n, spec1.out_channels, bins1, frames1), mask1[:, None, None]), mask2,
             (frames2, n, network.RNN.lstms[0].input_size)))):
        form, size = conv_form(cell)
        parts.append(Part(f"conv{index + 1}", f"conv{index + 1} +BN+act+mask",
                          Contracted(ConvBlock(cell, bn, conv.act, time_major=index == 1)),
                          [x, Tensor(mask[:, None, None]), noise(out)], input_grad=index > 0, form=form, block=size))
    lengths, masks = Tensor(lengths2.astype(np.int32)), Tensor(rnn_mask)
    norms = list(rnn.norms) if rnn.batch_norm else []
    for index, lstm in enumerate(rnn.lstms):
        norm = norms[index - 1] if norms and index > 0 else None
        label = f"BiLSTM {index} ({'BN, ' if norm is not None else ''}{lstm.input_size}->{lstm.hidden_size})"
        x = noise((frames2, n, lstm.input_size), rnn_mask)
        parts.append(Part(f"lstm{index}", label, Contracted(RNNLayer(lstm, norm)),
                          [x, lengths, masks, noise((frames2, n, lstm.hidden_size))], input_grad=True))
    hidden = rnn.lstms[-1].hidden_size
    parts.append(Part("fc", "fc + CTC loss", NetWithLoss(Head(network)),
                      [noise((frames2, n, hidden), rnn_mask), lengths, Tensor(batch["labels"]),
                       Tensor(batch["weights"])], input_grad=True))
    return parts


# ----------------------------------------------------------------------------- timing
@dataclass
class Timing:
    label: str
    key: str
    form: str
    compile_s: float
    forward: Optional[float]  # median seconds; None where a part has no forward of its own
    train: float  # forward + backward (the update alone for the optimiser)


def wait() -> None:
    """Wait for the device. On the CPU a graph call returns when its graph is done (and MindSpore's
    ``runtime.synchronize`` logs an error there), so there is nothing to wait for."""
    if ms.get_context("device_target") != "CPU":
        ms.runtime.synchronize()


def run(cell: nn.Cell, *inputs) -> float:
    """Call a graph, wait until it is done, return its first output's first value (read on the host)."""
    out = cell(*inputs)
    wait()
    while isinstance(out, (tuple, list)):
        out = out[0]
    return float(out.asnumpy().reshape(-1)[0]) if isinstance(out, Tensor) else float(out)  # an optimiser: a bool


def medians(calls: Dict[str, Callable[[], float]], warmup: int, steps: int) -> Dict[str, float]:
    """Median seconds of each call over ``steps`` turns (the calls taking turns) after ``warmup`` untimed ones."""
    times = bench_speed.interleaved(calls, warmup, steps)
    return {name: statistics.median(values) for name, values in times.items()}


def first_calls(calls: Dict[str, Callable[[], float]]) -> float:
    """Seconds of each call's first run (compiling its graph), summed."""
    return sum(bench_speed.timed(fn) for fn in calls.values())


def release() -> None:
    """Free the runtime memory MindSpore keeps cached per graph once a graph is no longer needed.
    Without it every part's workspace stayed: the small model at 16 x 5 s went past 5.6 GB at its
    first part, against 4.8 GB for the whole step alone (and stays at its 4.8 GB with it)."""
    gc.collect()
    ms.ms_memory_recycle()


def time_part(part: Part, warmup: int, steps: int) -> Timing:
    part.scalar.set_train(True)
    both = ForwardBackward(part.scalar, part.input_grad)
    both.set_train(True)
    calls = {"forward": lambda: run(part.scalar, *part.inputs), "train": lambda: run(both, *part.inputs)}
    compile_s = first_calls(calls)
    result = medians(calls, warmup, steps)
    return Timing(part.label, part.key, describe_form(part), compile_s, result["forward"], result["train"])


def describe_form(part: Part) -> str:
    if part.form == profile_flops.BANDED:
        return f"banded MatMul, {part.block} rows per block"
    if part.form == profile_flops.DFT:
        return f"DFT, time blocks of {part.block}"
    if part.form and part.form != profile_flops.DIRECT:
        return f"{part.form} (FLOPs counted as direct)"
    return part.form


def time_update(optimizer: nn.Optimizer, rng: np.random.Generator, warmup: int, steps: int) -> Timing:
    grads = tuple(Tensor(1e-3 * rng.standard_normal(p.shape).astype(np.float32)) for p in optimizer.parameters)
    update = Update(optimizer)
    calls = {"train": lambda: run(update, grads)}
    compile_s = first_calls(calls)
    name = type(optimizer).__name__
    return Timing(f"{name} update", "update", "", compile_s, None, medians(calls, warmup, steps)["train"])


@dataclass
class WholeStep:
    compile_s: float
    step: float  # median seconds of the TrainStep graph
    host: float  # median seconds of the trainer's host work around it


def time_whole_step(train_step: TrainStep, inputs: List[Tensor], warmup: int, steps: int) -> WholeStep:
    """The trainer's step as it runs it (src/training/trainer.py): guard copy, step, loss/norm reads."""
    guard = NonFiniteGuard(0, train_step)
    graph, host = [], []
    train_step.set_train(True)

    def one() -> float:
        start = time.perf_counter()
        guard.before_step()
        called = time.perf_counter()
        loss, norm = train_step(*inputs)
        wait()
        done = time.perf_counter()
        guard.update(float(loss.asnumpy()), float(norm.asnumpy()), "profile")
        graph.append(done - called)
        host.append(time.perf_counter() - done + called - start)
        return graph[-1]

    compile_s = bench_speed.timed(one)
    for _ in range(warmup):
        one()
    del graph[:], host[:]
    for _ in range(steps):
        one()
    return WholeStep(compile_s, statistics.median(graph), statistics.median(host))


def matmul_gflops(size: int, repeats: int) -> float:
    """fp32 ``size``^2 MatMul GFLOP/s in graph mode: the roofline's speed."""
    rng = np.random.default_rng(0)
    a, b = (Tensor(rng.standard_normal((size, size)).astype(np.float32)) for _ in range(2))
    cell = MatMul()
    seconds = medians({"matmul": lambda: run(cell, a, b)}, 1, repeats)["matmul"]
    return 2.0 * size ** 3 / seconds / 1e9


def data_seconds(batch_size: int, pad_multiple: int) -> Optional[Dict[str, float]]:
    """Seconds of batch assembly per second of audio, in one process, on the LibriSpeech sample:
    from the audio (decode + STFT) and from a warm feature cache. None without the sample."""
    if not os.path.isdir(bench_speed.LIBRI_SAMPLE):
        return None
    labels, params = Labels.load(config.LABELS_PATH), SpectParams()
    utts = bench_speed.librispeech_sample(labels, params)
    batches = make_batches(utts, batch_size, shuffle=False)
    audio_s = sum(u.frames for u in utts) * params.hop / params.sample_rate

    def assemble(feature_fn) -> float:
        source = BatchSource(utts, batches, params, labels.blank, batch_size, 0, pad_multiple, feature_fn=feature_fn)
        start = time.perf_counter()
        for index in range(len(source)):
            source[index]
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as cache_dir:
        cache = FeatureCache(cache_dir, params)
        fresh = assemble(None)
        assemble(cache)  # fills the cache
        cached = assemble(cache)
    return {"from the audio": fresh / audio_s, "from a warm feature cache": cached / audio_s}


# ----------------------------------------------------------------------------- the report
def cpu_description() -> str:
    """The CPU's model name and the vector ISA oneDNN can use on it, from /proc/cpuinfo."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.partition(":")[2].strip() for line in fh if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model} ({describe_isa(cpu_flags())})"


@dataclass
class Machine:
    threads: int
    isa: Optional[str] = None  # read after MindSpore's first graph ran
    matmul_gflops: Optional[float] = None


def msec(seconds: Optional[float]) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.1f}"


def print_table(case: bench_speed.Case, timings: List[Timing], whole: WholeStep,
                flops: Dict[str, profile_flops.PartFlops], machine: Machine) -> None:
    """One row per part, then their sum, the whole step and the remainder; then the roofline and host lines."""
    rate = machine.matmul_gflops * 1e9

    def row(label: str, form: str, compile_s: Optional[float], forward: Optional[float], train: float,
            part: Optional[profile_flops.PartFlops]) -> None:
        counted = part.counted.train if part else 0.0
        numbers = ([f"{counted / 1e9:.2f}", f"{part.direct.train / 1e9:.2f}", f"{counted / train / 1e9:.1f}",
                    msec(counted / rate), f"{train * rate / counted:.2f}"] if counted else ["—"] * 5)
        print(f"| {label} | {form} | {'' if compile_s is None else f'{compile_s:.1f}'} | {msec(forward)} | "
              f"{msec(train)} | {100 * train / whole.step:.1f} | " + " | ".join(numbers) + " |")

    print(f"\n| {case.name}: part | form | compile (s) | fwd (ms) | fwd+bwd (ms) | % of step | GFLOP ours | "
          "GFLOP direct conv | GFLOP/s | roofline (ms) | x roofline |")
    print("| --- " * 11 + "|")
    for t in timings:
        row(t.label, t.form, t.compile_s, t.forward, t.train, flops[t.key])
    step = profile_flops.PartFlops(profile_flops.total(flops[t.key].counted for t in timings),
                                   profile_flops.total(flops[t.key].direct for t in timings))
    parts = sum(t.train for t in timings)
    row("sum of parts", "", None, sum(t.forward for t in timings if t.forward is not None), parts, step)
    row("whole train step (TrainStep, one graph)", "", whole.compile_s, None, whole.step, step)
    row("remainder: step - parts (grad norm/clip, reshapes, per-graph overhead)", "", None, None,
        whole.step - parts, None)
    roofline = step.counted.train / rate
    print(f"\nroofline: {step.counted.train / 1e9:.1f} GFLOP as we compute it ({step.direct.train / 1e9:.1f} with "
          f"direct convs) at {machine.matmul_gflops:.0f} GFLOP/s = {roofline:.3f} s; the whole step takes "
          f"{whole.step:.3f} s = {whole.step / roofline:.2f}x the roofline (issue 17 target: <= 1.5x at the full "
          f"ISA; this run: oneDNN ISA {machine.isa})")
    print(f"host work of the trainer per step (guard's batch-norm statistics copy, loss and gradient-norm reads): "
          f"{msec(whole.host)} ms = {100 * whole.host / whole.step:.2f} % of the step")


def print_data(case: bench_speed.Case, batch: Dict[str, np.ndarray], rates: Optional[Dict[str, float]],
               step_s: float, workers: int) -> None:
    if rates is None:
        print(f"data: no LibriSpeech sample at {bench_speed.LIBRI_SAMPLE}, not timed")
        return
    audio_s = float(batch["lengths"].sum()) / 100
    per_step = "; ".join(f"{name} {msec(rate * audio_s)} ms ({100 * rate * audio_s / step_s:.1f} % of the step)"
                         for name, rate in rates.items())
    print(f"data: assembling one batch of {case.batch_size} ({audio_s:.1f} s of audio) in one process: {per_step}; "
          f"the trainer runs it in {workers} worker(s) alongside the step, so it costs step time only when slower")


# ----------------------------------------------------------------------------- driver
def profile_case(case: bench_speed.Case, args, machine: Machine, data_rates: Dict[int, Optional[Dict[str, float]]],
                 pad_multiple: int) -> None:
    """Time the whole step, then each part, of ``case``; print the table."""
    cfg = bench_speed.model_config(case, args)
    rng = np.random.default_rng(0)
    batch = bench_speed.make_batch(case, pad_multiple, rng)
    train_step = bench_speed.build_train_step(cfg, 2 * (args.warmup + args.steps + 1) + 2)
    inputs = [Tensor(batch[k]) for k in ("x", "lengths", "labels", "weights")]
    model = cfg.ModelConfig
    width = batch["x"].shape[3]
    print(f"\n## profile: {case.name}, {model.hidden_layers} x BiLSTM-{model.hidden_size}, batch {case.batch_size} x "
          f"{case.seconds:g} s (padded to {width} frames), activation {model.activation}, RNN batch norm "
          f"{'on' if model.rnn_batch_norm else 'off'}", flush=True)
    whole = time_whole_step(train_step, inputs, args.warmup, args.steps)
    network, optimizer = train_step.loss_net.network, train_step.optimizer
    del train_step, inputs
    release()
    print(f"whole step: first call incl. compile {whole.compile_s:.1f} s, median {whole.step:.3f} s; "
          f"{bench_speed.rss_gb()}", flush=True)
    if machine.isa is None:  # oneDNN has read it now (whatever src or the network set before the first graph)
        machine.isa = isa_in_force()
    if machine.matmul_gflops is None:
        machine.matmul_gflops = matmul_gflops(args.matmul_size, max(args.steps, 3))
        print(f"CPU: {cpu_description()}; {machine.threads} threads; oneDNN ISA in effect: {machine.isa}; "
              f"MindSpore {ms.__version__}; fp32 MatMul {args.matmul_size}^2, graph mode: "
              f"{machine.matmul_gflops:.1f} GFLOP/s", flush=True)
    timings = []
    forms, blocks = [], []
    parts = build_parts(network, batch, rng)
    while parts:
        part = parts.pop(0)  # its graphs go when it does
        timing = time_part(part, args.warmup, args.steps)
        if part.key.startswith("conv"):
            forms.append(part.form)
            blocks.append(part.block)
        timings.append(timing)
        print(f"  {timing.label}: compile {timing.compile_s:.1f} s, fwd {msec(timing.forward)} ms, "
              f"fwd+bwd {msec(timing.train)} ms; {bench_speed.rss_gb()}", flush=True)
        del part
        release()
    timings.append(time_update(optimizer, rng, args.warmup, args.steps))
    shape = profile_flops.StepShape(case.batch_size, width, int(model.hidden_size), int(model.hidden_layers))
    print_table(case, timings, whole, profile_flops.step_flops(shape, forms, blocks), machine)
    if not args.no_data:
        if case.batch_size not in data_rates:
            data_rates[case.batch_size] = data_seconds(case.batch_size, pad_multiple)
        print_data(case, batch, data_rates[case.batch_size], whole.step, args.workers)
    print(f"peak memory of this process: {bench_speed.rss_gb()}", flush=True)


def profile_cases(args, isa: Optional[str] = None) -> None:
    """Profile every case of ``args`` (bench_speed's options). ``isa``: the oneDNN cap MindSpore already
    runs under, if a graph ran before (bench_speed restores the user's value for PyTorch afterwards)."""
    release()  # bench_speed's graphs of the comparison are gone; their cached memory is not
    machine = Machine(args.threads, isa)
    pad_multiple = int(config.train_config.DataConfig.pad_multiple)
    data_rates: Dict[int, Optional[Dict[str, float]]] = {}
    for case in args.case_list:
        profile_case(case, args, machine, data_rates, pad_multiple)
        release()  # the next case's graphs need the memory


def main(argv=None) -> None:
    args = bench_speed.parse_args(argv, bench_speed.build_parser(__doc__.split("\n")[0], comparison=False))
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    bench_speed.set_threads(args.threads)
    ms.set_seed(0)
    profile_cases(args)


if __name__ == "__main__":
    main()
