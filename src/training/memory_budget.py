"""The peak memory of a training run, estimated before anything is compiled, and the check that refuses
a run that would not fit instead of letting the OOM killer end it hours later.

Where the memory goes (measured with ``python -m benchmarks.bench_memory``, which prints the per-shape
table, and heaptrack). Graph mode compiles one graph per input shape, and on the CPU each compiled
graph keeps, for as long as it lives:

- index tables of MindSpore's CPU Transpose and broadcasting element-wise kernels: 8 bytes per
  element per operand, built when the kernel is sized (a 10 MB transpose holds ~45 MB more). The
  network's own permutations avoid them (``src/model/permute.py``: row Gathers and ChannelShuffle
  swaps), which took the small model's per-frame cost from ~0.37 to ~0.2 GB per thousand frames;
- oneDNN primitives with their scratchpads and reordered weights (each LSTM layer and direction,
  forward and backward), in proportion to the parameters;
- its compiled IR and kernels.

Activations and gradients live in MindSpore's memory pool, which all graphs share; the rest is per
graph, so a run holds the sum over the padded widths it meets, never released (about half of a
graph stays when the next width compiles). Validation compiles inference graphs on top (one at a
time: ``evaluate`` releases each width's graph). Data-loader workers are forked from the training
process once per epoch and share its pages copy-on-write, so every page the trainer rewrites in a
step (the pool, the scratchpads, the weights and Adam's moments) is duplicated for them. Hence

    peak = PROCESS + BUILD_PER_PARAM * P                        (Python, MindSpore, the network)
         + SPREAD * max(graphs) + KEPT * sum(graphs)            (one training graph per padded width)
         + VAL_KEPT * infer_graph(b, widest validation width)   (validation)
         + with worker processes: SPREAD * max(graphs) + STATE_PER_PARAM * P + WORKER * workers
         + with --accum_grad > 1: ACCUM_PER_PARAM * P               (the added-up gradients, the update graph)

    graph(b, w) = GRAPH + GRAPH_PER_PARAM * P + GRAPH_PER_WIDTH * w + b * w * (FRAME_CONV + FRAME_RNN * L * H)

with P the trainable parameters, L x H the LSTM layers and width, b the batch size and w a padded
width in thousands of frames (``SPREAD = 1 - KEPT``). A dynamic time axis (``max_static_shapes``)
compiles one graph whose tables follow the batch at hand: it holds about a static graph of its
widest batch (measured 0.7-0.95 of it). The constants were fitted by least squares to the peak RSS
(VmHWM) of fresh processes on the 2-core AMD EPYC machine (MindSpore 2.10, 2026-12-01): tiny, small
and medium models and the full model's 1024-wide layers 1-4 deep (the whole full model did not fit
the 6 GB those measurements were allowed), batch 1-8, widths 512-2048; every graph is then scaled
by ``MARGIN`` so that no measured point is above its estimate. After the permutations stopped
building index tables (2026-12-06, AMD Zen 4) the per-graph terms ``GRAPH``, ``GRAPH_PER_WIDTH``
and ``FRAME_CONV`` were refitted on seven re-measured shapes (tests/training/test_memory_budget.py)
so that each is over-estimated by 5-8 %; the other terms were not re-measured. The conv terms
(``GRAPH_PER_WIDTH``, ``FRAME_CONV``) scale with the feature rows (161 linear bins; ``--n_mels``
bands): with 80 bands the small model at batch 16 x 1024 frames measured 3.41 GB against 4.75 GB,
estimated 4.02 against 5.20 (2026-12-07).

The trainer calls :func:`check_memory` after building the network and before the first step (the
first compile): it logs the estimate and, when it exceeds what the machine has free (``MemAvailable``,
or the cgroup's limit if lower), raises a ``ConfigError`` naming a flag that makes the run fit
(``--num_workers 1``, ``--batch_size``, ``--batch_size`` with the ``--accum_grad`` that keeps the
effective batch, ``--max_static_shapes 1``, ``--max_duration``), or
``--memory_check false`` to run anyway.
"""
import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from src.common.errors import ConfigError
from src.data.batching import make_batches
from src.data.sample_check import Utterance
from src.model.geometry import DEFAULT_FREQ_BINS
from src.model.shapes import padded_width_range

GB = float(2 ** 30)
M = 1e6

# The fitted constants, in GB (widths in thousands of frames, parameters in millions); sources in the docstring.
PROCESS = 0.39  # RSS once MindSpore and the project are imported (every measured run)
BUILD_PER_PARAM = 0.0047 / M  # the built network and optimiser: tiny 0.40, small 0.43, medium 0.51, full 0.80 GB
STATE_PER_PARAM = 0.016 / M  # weights, Adam's two moments and a gradient: 16 bytes, rewritten every step
ACCUM_PER_PARAM = 0.008 / M  # --accum_grad: the buffers (4 bytes) and the update graph's scaled copy (small model,
#                              batch 4 x 4 widths: +0.04-0.11 GB measured, 2026-12-07)
KEPT = 0.5  # share of a training graph that stays when the next width compiles (small model, widths 512..2048
#             in turn in one process: 0.45 at batch 1, 0.49 at batch 2)
SPREAD = 1.0 - KEPT  # the rest: the shared pool, sized by the largest graph
GRAPH = 0.93  # per training graph ...
GRAPH_PER_PARAM = 0.0370 / M  # ... per parameter (oneDNN LSTM weights and scratchpads, forward and backward) ...
GRAPH_PER_WIDTH = 0.025  # ... per thousand frames of width, whatever the batch (the DFT's tables) ...
FRAME_CONV = 0.125  # ... per thousand frames of the batch (b * w): the conv front-end ...
# ... but in a graph with a dynamic time axis conv2 is the direct kernel and the permutations are Transposes
# again (src/model/permute.py needs shapes known at compile time): the fit from before the refit
FRAME_CONV_DYNAMIC, GRAPH_PER_WIDTH_DYNAMIC = 0.2966, 0.0953
FRAME_RNN = 0.100e-3  # ... and per thousand frames per LSTM unit (layers x hidden)
INFER = (0.492, 0.00818 / M, 0.0977, 0.0903, 0.023e-3)  # an inference graph: the same five terms
VAL_KEPT = 0.35  # share of the validation graph that adds to the training graphs (small model, batch 2: 0.29)
WORKER = 0.05  # a worker process's own memory beyond the pages it shares with the trainer
MARGIN = 1.07  # every graph scaled by this: the fit's largest under-estimate was 6 %


@dataclass(frozen=True)
class RunShape:
    """What decides a training run's memory."""
    parameters: int  # trainable parameters
    hidden_size: int
    hidden_layers: int
    batch_size: int
    widths: Tuple[int, ...]  # padded widths (frames) of the training batches
    dynamic: bool  # one graph with a dynamic time axis instead of one per width
    val_widths: Tuple[int, ...] = ()  # padded widths of the validation batches (same batch size; static or
    #                                   dynamic, validation holds about one graph of the widest)
    workers: int = 0  # data-loader worker processes (0: the loader runs in the trainer's process)
    processes: int = 1  # data-parallel ranks sharing this machine's memory
    accum_grad: int = 1  # batches per optimiser update (> 1: gradient buffers and an update graph)
    bins: int = DEFAULT_FREQ_BINS  # feature rows (--n_mels): the conv front-end's maps scale with them


@dataclass(frozen=True)
class Estimate:
    """The estimated peak memory of one training process (and its workers) in GB, by part."""
    parts: Dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def describe(self) -> str:
        return ", ".join(f"{name} {gb:.1f}" for name, gb in self.parts.items() if gb >= 0.05)


def _graph_gb(terms: Tuple[float, ...], shape: RunShape, width: int) -> float:
    fixed, per_param, per_width, per_frame, per_unit_frame = terms
    w = width / 1000.0
    units = shape.hidden_layers * shape.hidden_size
    rows = shape.bins / DEFAULT_FREQ_BINS  # the conv terms were fitted on 161 rows; their maps scale with the rows
    return MARGIN * (fixed + per_param * shape.parameters + rows * per_width * w +
                     shape.batch_size * w * (rows * per_frame + per_unit_frame * units))


def train_graph_gb(shape: RunShape, width: int) -> float:
    """One compiled training graph of batch ``shape.batch_size`` x ``width`` frames."""
    per_width, per_frame = ((GRAPH_PER_WIDTH_DYNAMIC, FRAME_CONV_DYNAMIC) if shape.dynamic
                            else (GRAPH_PER_WIDTH, FRAME_CONV))
    return _graph_gb((GRAPH, GRAPH_PER_PARAM, per_width, per_frame, FRAME_RNN), shape, width)


def infer_graph_gb(shape: RunShape, width: int) -> float:
    """One compiled inference graph (validation, eval) of batch ``shape.batch_size`` x ``width`` frames."""
    return _graph_gb(INFER, shape, width)


def estimate(shape: RunShape) -> Estimate:
    """The run's peak memory per process, in GB, by part (see the module docstring)."""
    parts = {"process": PROCESS + BUILD_PER_PARAM * shape.parameters}
    if shape.accum_grad > 1:
        parts["accumulated gradients"] = ACCUM_PER_PARAM * shape.parameters
    largest = 0.0
    if shape.widths:
        graphs = [train_graph_gb(shape, w) for w in ((max(shape.widths),) if shape.dynamic else shape.widths)]
        largest = max(graphs)
        name = "dynamic training graph" if shape.dynamic else f"{len(graphs)} training graph{'s' * (len(graphs) > 1)}"
        parts[name] = SPREAD * largest + KEPT * sum(graphs)
    if shape.val_widths:
        graph = infer_graph_gb(shape, max(shape.val_widths))
        parts["validation graph"] = VAL_KEPT * graph if shape.widths else graph
    if shape.workers:
        parts[f"{shape.workers} loader workers"] = (SPREAD * largest + STATE_PER_PARAM * shape.parameters +
                                                   WORKER * shape.workers)
    return Estimate(parts)


def batch_widths(utts: Sequence[Utterance], batch_size: int, pad_multiple: int, bucket_pool: int = 0,
                 stretch: float = 1.0, rank: int = 0, group_size: int = 1) -> Tuple[int, ...]:
    """The padded widths the batches of ``utts`` will have, ascending.

    Exact when a batch keeps its members every epoch (``bucket_pool`` 0 and no speed perturbation:
    only the order of the batches is shuffled); otherwise every multiple of ``pad_multiple`` the
    (stretched) lengths can reach.
    """
    if not utts:
        return ()
    if bucket_pool or stretch != 1.0:
        return tuple(padded_width_range([u.frames for u in utts], pad_multiple, stretch))
    pad = max(int(pad_multiple), 1)
    batches = make_batches(utts, batch_size, shuffle=False, rank=rank, group_size=group_size)
    return tuple(sorted({pad * math.ceil(max(utts[i].frames for i in members or [0]) / pad) for members in batches}))


def worker_processes(num_workers: int) -> int:
    """The loader's worker processes for ``DataConfig.num_workers`` (``create_dataset``: one worker runs in-process)."""
    return num_workers if num_workers > 1 else 0


@dataclass(frozen=True)
class Planner:
    """A run's fixed facts; :meth:`shape` gives its :class:`RunShape` for the settings a user can change."""
    utts: Sequence[Utterance]
    val_utts: Sequence[Utterance]  # [] on ranks that do not validate
    parameters: int
    hidden_size: int
    hidden_layers: int
    pad_multiple: int
    bucket_pool: int = 0
    stretch: float = 1.0  # 1 / speed_min with speed perturbation
    frames_per_second: float = 100.0
    rank: int = 0
    group_size: int = 1
    bins: int = DEFAULT_FREQ_BINS

    def shape(self, batch_size: int, max_static_shapes: int, num_workers: int,
              max_seconds: float = 0.0, accum_grad: int = 1) -> RunShape:
        """The run with these settings; ``max_seconds`` > 0 drops longer training utterances (``--max_duration``)."""
        utts = self.utts
        if max_seconds:
            utts = [u for u in utts if (u.frames - 1) / self.frames_per_second <= max_seconds]
        reach = padded_width_range([u.frames for u in utts], self.pad_multiple, self.stretch)
        return RunShape(self.parameters, self.hidden_size, self.hidden_layers, batch_size,
                        batch_widths(utts, batch_size, self.pad_multiple, self.bucket_pool, self.stretch, self.rank,
                                     self.group_size), len(reach) > max_static_shapes,
                        batch_widths(self.val_utts, batch_size, self.pad_multiple), worker_processes(num_workers),
                        self.group_size, accum_grad, self.bins)

    def longest_seconds(self) -> float:
        return max(((u.frames - 1) / self.frames_per_second for u in self.utts), default=0.0)


def fits(shape: RunShape, available_gb: float, held_gb: float = 0.0) -> bool:
    """Whether every process of ``shape`` can grow to its estimate; ``held_gb`` is what each already holds."""
    return (estimate(shape).total - held_gb) * shape.processes <= available_gb


def fixes(planner: Planner, batch_size: int, max_static_shapes: int, num_workers: int, available_gb: float,
          held_gb: float = 0.0, accum_grad: int = 1) -> List[str]:
    """Flags that make the run fit, the mildest of each kind, in this order: no worker processes, the
    largest smaller batch, and the largest that divides the effective batch with the ``--accum_grad`` that
    keeps it (one suggestion when they are the same batch), a dynamic time axis at this batch, the longest
    ``--max_duration`` (whole seconds)."""
    def ok(batch: int = batch_size, static: int = max_static_shapes, workers: int = num_workers,
           seconds: float = 0.0, accum: int = accum_grad) -> bool:
        return fits(planner.shape(batch, static, workers, seconds, accum), available_gb, held_gb)

    found = []
    if worker_processes(num_workers) and ok(workers=1):
        found.append("--num_workers 1")
    smaller = _largest(range(1, batch_size), lambda b: ok(batch=b))
    if smaller:
        total = batch_size * accum_grad  # the effective batch, kept by the largest divisor that fits
        divisor = max((d for d in range(1, smaller + 1) if total % d == 0 and ok(batch=d, accum=total // d)),
                      default=0)
        if divisor == smaller and accum_grad == 1:  # one suggestion: the largest batch keeps the effective batch
            found.append(f"--batch_size {smaller} --accum_grad {total // smaller}")
        else:
            found.append(f"--batch_size {smaller}")
            if divisor:
                found.append(f"--batch_size {divisor} --accum_grad {total // divisor}")
    if not planner.shape(batch_size, max_static_shapes, num_workers).dynamic and ok(static=1):
        found.append("--max_static_shapes 1")
    seconds = _largest(range(1, math.ceil(planner.longest_seconds())), lambda sec: ok(seconds=sec))
    if seconds:
        found.append(f"--max_duration {seconds}")
    return found


def _largest(values: Sequence[int], good: Callable[[int], bool]) -> int:
    """The largest of the ascending ``values`` that is ``good`` (0 if none), for a ``good`` that holds up to
    some value and not beyond: a binary search, since each test re-plans the whole data set."""
    low, high = 0, len(values)  # values[:low] are known good, values[high:] known bad
    while low < high:
        mid = (low + high) // 2
        if good(values[mid]):
            low = mid + 1
        else:
            high = mid
    return values[low - 1] if low else 0


def available_gb() -> float:
    """Memory new allocations can still get: ``MemAvailable``, or less if this process's cgroup is capped."""
    with open("/proc/meminfo", encoding="ascii") as fh:
        available = next(int(line.split()[1]) for line in fh if line.startswith("MemAvailable:")) * 1024
    try:  # cgroup v2: memory.max ("max" = no cap) minus what the group already uses
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            cap = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
            used = int(fh.read())
        if cap != "max":
            available = min(available, int(cap) - used)
    except (OSError, ValueError):
        pass
    return available / GB


def rss_gb() -> float:
    """This process's resident memory now."""
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 2 ** 20


def check_memory(planner: Planner, batch_size: int, max_static_shapes: int, num_workers: int, enforce: bool = True,
                 log: Callable[[str], None] = print, free_gb: Optional[float] = None, accum_grad: int = 1) -> Estimate:
    """Log the run's estimated peak; with ``enforce``, refuse (``ConfigError``) a run that would not fit.

    ``free_gb`` stands for the machine's available memory (tests).
    """
    shape = planner.shape(batch_size, max_static_shapes, num_workers, accum_grad=accum_grad)
    est = estimate(shape)
    held = rss_gb()
    free = available_gb() if free_gb is None else free_gb
    widths = (f"{len(shape.widths)} padded width{'s' * (len(shape.widths) != 1)} up to "
              f"{max(shape.widths, default=0)} frames" + (", dynamic time axis" if shape.dynamic else ""))
    per_process = f" per process x {shape.processes}" if shape.processes > 1 else ""
    log(f"memory: estimated peak {est.total:.1f} GB{per_process} (batch {batch_size}, {widths}: {est.describe()}); "
        f"{free + held:.1f} GB available")
    if enforce and not fits(shape, free, held):
        found = fixes(planner, batch_size, max_static_shapes, num_workers, free, held, accum_grad)
        accumulate = " (--accum_grad N: one update per N batches, the same effective batch)" if any(
            "--accum_grad" in flag for flag in found) else ""
        advice = (f"use {' or '.join(found)}{accumulate}" if found else
                  "even batch 1 with a dynamic time axis would not fit: free memory or use a smaller --model_size")
        raise ConfigError(f"this training run would need about {est.total:.1f} GB of memory{per_process} at its peak "
                          f"(batch {batch_size}, {widths}) but {free + held:.1f} GB is available: {advice}, "
                          f"or --memory_check false to try anyway")
    return est
