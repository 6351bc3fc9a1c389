"""Per-shape memory profile of the training step: peak resident memory per batch size and padded width.

Graph mode compiles one graph per input shape, and on the CPU that is where the gigabytes go
(``src/training/memory_budget.py`` says what holds them). Each case runs in a fresh subprocess (peak
RSS is per process) that builds the training step as ``train.py`` does (the configured model size,
Adam, clipping, CTC labels padded to a fixed length) and steps it through one or more padded widths,
reporting VmRSS and VmHWM (/proc/self/status) and glibc's heap after the import, after building
and after every step. A watchdog in the parent kills a case whose processes together (summed PSS)
pass ``--rss_limit_gb``, so a case too large for the machine is reported instead of meeting the OOM
killer. The last column is ``memory_budget``'s estimate for the case.

Usage (from the project root):
    python -m benchmarks.bench_memory                        # small model, batch 1,2,4 x widths 512,1024,2048
    python -m benchmarks.bench_memory --batch 4 --widths 512,1024,1536,2048 --sequence
                                                             # one process through the widths, in turn
    python -m benchmarks.bench_memory --dynamic --batch 4 --widths 512,2048 --sequence
    python -m benchmarks.bench_memory --sequence --validate --free_val --batch 2 --widths 512,1024
                                                             # then validation's graphs, one at a time
    python -m benchmarks.bench_memory --conv_impl direct ...  # the convs as nn.Conv2d
    python -m benchmarks.bench_memory --model_size full --hidden_layers 2 --batch 1 --widths 512
    python -m benchmarks.bench_memory --loader --batch 4 --held_gb 1.5   # loader workers forked from a big process
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GB = 2.0 ** 30
PROBE = "MEM "  # prefix of the child's report lines


# blocks of the network that --recompute names (the whole conv front-end does not compile: a graph cycle)
RECOMPUTABLE = {"conv1": lambda net: net.conv.conv1, "bn1": lambda net: net.conv.bn1,
                "conv2": lambda net: net.conv.conv2, "bn2": lambda net: net.conv.bn2,
                "act": lambda net: net.conv.act, "rnn": lambda net: net.RNN}


def recomputable(text: str) -> str:
    unknown = [name for name in text.split(",") if name and name not in RECOMPUTABLE]
    if unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown)}: choose from {', '.join(RECOMPUTABLE)}")
    return text


@dataclass
class Case:
    """One subprocess: a training step stepped through ``widths`` in turn."""
    model_size: str = "small"
    hidden_layers: int = 0  # > 0: overrides the named size's layer count (to measure one layer's share)
    infer: bool = False  # the inference graph (forward only, as validation runs it) instead of the training step
    validate: bool = False  # after training, the inference graph (validation) through the same widths
    free_val: bool = False  # ... freeing each width's inference graph before the next (as the trainer does)
    batch: int = 4
    widths: List[int] = field(default_factory=lambda: [512])
    dynamic: bool = False
    conv_impl: str = "auto"
    steps: int = 2  # steps per width (the second shows whether a step keeps growing)
    label_len: int = 0  # CTC label pad; 0 = what the widest input could carry (0.15 characters per frame)
    activation: str = "hardtanh"
    rnn_batch_norm: bool = True
    memory_optimize_level: str = ""  # ms.set_context(memory_optimize_level=...); "" = MindSpore's default
    jit_level: str = ""  # ms.set_context(jit_config={"jit_level": ...}); "" = default
    max_size: str = ""  # ms.runtime.set_memory(max_size=...); "" = default
    free_between: bool = False  # drop the previous width's compiled graph before the next width
    accum_grad: int = 1  # > 1: AccumulatingTrainStep, one update (its own small graph) every accum_grad steps
    n_mels: int = 0  # > 0: the network for N log-mel bands (--n_mels) instead of the 161 linear bins
    recompute: str = ""  # e.g. "conv2,rnn": those blocks recomputed in the backward pass (Cell.recompute; RECOMPUTABLE)
    loader_workers: int = -1  # >= 0: profile the data loader instead of the step (see loader_child)
    held_gb: float = 0.0  # loader: memory the parent holds and rewrites, as a training process does
    start_method: str = ""  # loader: the workers' start method (fork, spawn); "" = MindSpore's default (fork)


# ----------------------------------------------------------------------------- inside the subprocess
def status_kb() -> Dict[str, int]:
    """VmRSS and VmHWM of this process, in kB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        fields = dict(line.split(":", 1) for line in fh if ":" in line)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}


def malloc_gb() -> Dict[str, float]:
    """glibc's heap: bytes in use and bytes freed but kept (mallinfo2), in GB; {} elsewhere."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                          "fsmblks", "uordblks", "fordblks", "keepcost")]
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {"malloc_used_gb": (info.uordblks + info.hblkhd) / GB, "malloc_free_gb": info.fordblks / GB}


def pool_gb() -> Dict[str, float]:
    """MindSpore's memory pool: peak bytes reserved and allocated by tensors, in GB."""
    import mindspore as ms

    try:
        return {"pool_reserved_gb": ms.runtime.max_memory_reserved() / GB,
                "pool_allocated_gb": ms.runtime.max_memory_allocated() / GB}
    except (RuntimeError, AttributeError):
        return {}


def report(stage: str, pool: bool = False, **extra) -> None:
    kb = status_kb()
    print(PROBE + json.dumps({"stage": stage, "rss_gb": kb["VmRSS"] / 2**20, "hwm_gb": kb["VmHWM"] / 2**20,
                              **malloc_gb(), **(pool_gb() if pool else {}), **extra}), flush=True)


def random_batch(batch: int, width: int, label_len: int, rng, bins: int = 161):
    """Inputs of one padded width: rows 75-100 % of it long (a sorted bucket), labels blank-padded."""
    import numpy as np
    from mindspore import Tensor

    lengths = np.linspace(width, int(width * 0.75) + 1, batch).astype(np.int32)
    x = np.zeros((batch, 1, bins, width), np.float32)
    labels = np.full((batch, label_len), 28, np.int32)
    for row, length in enumerate(lengths):
        x[row, 0, :, :length] = rng.standard_normal((bins, length))
        chars = min(label_len, int(length * 0.12))
        labels[row, :chars] = rng.integers(0, 28, chars)
    return [Tensor(x), Tensor(lengths), Tensor(labels), Tensor(np.ones(batch, np.float32))]


def step_child(case: Case) -> None:
    import src  # noqa: F401  (before MindSpore, as train.py)
    import mindspore as ms
    import numpy as np

    import config
    from src.config.overrides import apply_model_size, apply_overrides
    from src.data.features import SpectParams
    from src.model.deepspeech2 import PredictWithSoftmax, build_model, count_parameters
    from src.model.shapes import declare_dynamic_time
    from src.training.step import build_train_step

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    if case.memory_optimize_level:
        ms.set_context(memory_optimize_level=case.memory_optimize_level)
    if case.jit_level:
        ms.set_context(jit_config={"jit_level": case.jit_level})
    if case.max_size:
        ms.runtime.set_memory(max_size=case.max_size)
    report("import")
    cfg = apply_overrides(config.train_config, ["--activation", case.activation, "--rnn_batch_norm",
                                                str(case.rnn_batch_norm), "--conv_impl", case.conv_impl,
                                                "--accum_grad", str(case.accum_grad)])
    apply_model_size(cfg, case.model_size)
    if case.hidden_layers:
        cfg.ModelConfig.hidden_layers = case.hidden_layers
    ms.set_seed(0)
    bins = SpectParams(n_mels=case.n_mels).n_bins
    network = build_model(cfg.ModelConfig, 29, bins)
    for block in filter(None, case.recompute.split(",")):
        RECOMPUTABLE[block](network).recompute()
    steps = case.steps * len(case.widths)
    label_len = case.label_len or int(max(case.widths) * 0.15)
    rng = np.random.default_rng(0)
    batches = {width: random_batch(case.batch, width, label_len, rng, bins) for width in case.widths}
    predictor = PredictWithSoftmax(network)
    predictor.set_train(False)
    facts = {"parameters": count_parameters(network), "hidden_size": int(cfg.ModelConfig.hidden_size),
             "hidden_layers": int(cfg.ModelConfig.hidden_layers)}
    if not case.infer:
        step = build_train_step(network, cfg.OptimConfig, np.full(steps, 1e-4, np.float32))
        if case.dynamic:
            declare_dynamic_time(step, case.batch, bins, label_len)
        step.set_train(True)
        report("build", **facts)
        run_widths(step, batches, case.steps, case.free_between, "train", case.accum_grad)
    if case.infer or case.validate:
        if case.dynamic:
            declare_dynamic_time(predictor, case.batch, bins)
        report("build", **facts)
        run_widths(predictor, {w: b[:2] for w, b in batches.items()}, case.steps, case.free_between or case.free_val,
                   "infer")


def run_widths(cell, batches, steps: int, free_between: bool, phase: str, accum_grad: int = 1) -> None:
    """Call ``cell`` ``steps`` times per padded width, in turn, reporting memory after each call; with
    ``accum_grad`` > 1 also ``cell.update`` after every ``accum_grad``-th call (timed with that call)."""
    import mindspore as ms
    from src.model.shapes import free_compiled_graphs

    calls = 0
    for width, inputs in batches.items():
        if free_between:
            free_compiled_graphs(cell)
        for i in range(steps):
            start = time.perf_counter()
            first, _ = cell(*inputs)
            calls += 1
            if accum_grad > 1 and calls % accum_grad == 0:
                cell.update(ms.Tensor(1.0 / accum_grad, ms.float32))
            value = float(first.asnumpy().ravel()[0])
            report(f"{phase} w{width} step {i + 1}", pool=True, phase=phase, width=width,
                   seconds=time.perf_counter() - start, value=value)


def loader_child(case: Case) -> None:
    """Memory of the data loader: this process plus its worker processes, over real speech batches.

    ``case.held_gb`` > 0 first fills that much memory and rewrites it after every batch, as a training
    process does with its compiled graphs' working memory: workers forked from such a process share
    its pages copy-on-write, so every page the parent rewrites afterwards is duplicated. The tree's
    physical memory is the sum of its processes' PSS.
    """
    import numpy as np

    import src  # noqa: F401
    from src.data.batching import BatchSource, create_dataset, make_batches
    from src.data.features import SpectParams
    from src.data.labels import Labels
    from src.data.sample_check import load_utterances

    if case.start_method:
        import mindspore.dataset as ds

        ds.config.set_multiprocessing_start_method(case.start_method)
    held = np.ones(int(case.held_gb * GB) // 8)  # touched: resident
    report("import")
    labels, params = Labels.load(os.path.join(ROOT, "labels.json")), SpectParams()
    utts, _ = load_utterances(loader_manifest(), labels, params)
    batches = make_batches(utts, case.batch, seed=0)[:12]
    label_pad = max(len(u.ids) for u in utts)
    source = BatchSource(utts, batches, params, labels.blank, case.batch, label_pad, case.widths[0])
    dataset = create_dataset(source, case.loader_workers)
    for i, _ in enumerate(dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)):
        held += 1.0  # the parent rewrites its memory, as every training step does
        report(f"batch {i + 1}", children_gb=children_rss_kb(os.getpid()) / 2**20,
               tree_pss_gb=tree_pss_kb(os.getpid()) / 2**20)


def loader_manifest() -> str:
    """A manifest of the LibriSpeech sample (real 2-35 s speech), written once to a temporary folder."""
    import glob
    import tempfile

    import soundfile as sf

    folder = os.path.join(tempfile.gettempdir(), "ds2_bench_memory")
    path = os.path.join(folder, "manifest.csv")
    if os.path.exists(path):
        return path
    os.makedirs(folder, exist_ok=True)
    rows = []
    for trans in sorted(glob.glob(os.path.join(ROOT, "..", "shared", "data", "librispeech-sample", "LibriSpeech",
                                               "*", "*", "*", "*.trans.txt"))):
        for line in open(trans, encoding="utf-8"):
            key, text = line.strip().split(" ", 1)
            wav, txt = os.path.join(folder, key + ".wav"), os.path.join(folder, key + ".txt")
            samples, rate = sf.read(os.path.join(os.path.dirname(trans), key + ".flac"))
            sf.write(wav, samples, rate, subtype="PCM_16")
            with open(txt, "w", encoding="utf-8") as fh:
                fh.write(text.lower() + "\n")
            rows.append(f"{wav},{txt}")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        fh.write("\n".join(rows) + "\n")
    os.replace(path + ".tmp", path)
    return path


# ----------------------------------------------------------------------------- in the parent
def children_rss_kb(pid: int) -> int:
    """Summed VmRSS of ``pid``'s descendants (data workers), in kB."""
    total = 0
    for child in descendants(pid):
        try:
            with open(f"/proc/{child}/status", encoding="ascii") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def descendants(pid: int) -> List[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children", encoding="ascii") as fh:
                kids = [int(p) for p in fh.read().split()]
        except OSError:
            kids = []
        found += kids
        frontier += kids
    return found


def pss_kb(pid: int) -> int:
    """Proportional set size of ``pid``: its private pages plus its share of pages shared with others."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("Pss:")), 0)
    except OSError:
        return 0


def tree_pss_kb(pid: int) -> int:
    """Physical memory of ``pid`` and its descendants together (summed PSS), in kB."""
    return sum(pss_kb(p) for p in [pid] + descendants(pid))


def run_case(case: Case, rss_limit_gb: float, timeout_s: float) -> Dict:
    """Run ``case`` in a fresh subprocess; its report lines, and whether the watchdog killed it."""
    cmd = [sys.executable, "-m", "benchmarks.bench_memory", "--child", json.dumps(asdict(case))]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = [0]
    killed = [""]

    def watch() -> None:
        start = time.time()
        while proc.poll() is None:
            rss = tree_pss_kb(proc.pid)  # physical memory: forked workers share most pages with the parent
            peak_tree[0] = max(peak_tree[0], rss)
            if rss_limit_gb and rss > rss_limit_gb * 2**20:
                killed[0] = f"killed at {rss / 2**20:.1f} GB (--rss_limit_gb {rss_limit_gb:g}, summed PSS)"
            elif time.time() - start > timeout_s:
                killed[0] = f"killed after {timeout_s:.0f} s (--timeout)"
            if killed[0]:
                proc.kill()
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    watcher.join()
    records = [json.loads(line[len(PROBE):]) for line in out.splitlines() if line.startswith(PROBE)]
    failed = "" if proc.returncode == 0 or killed[0] else (err.strip().splitlines() or ["?"])[-1]
    return {"records": records, "killed": killed[0], "failed": failed, "peak_tree_gb": peak_tree[0] / 2**20}


def predicted_gb(case: Case, records: List[Dict]) -> Optional[float]:
    """``src/training/memory_budget.py``'s estimate of the case's peak; None where it does not model the case
    (the loader; inference or validation graphs of several widths kept alive together)."""
    from src.training.memory_budget import RunShape, estimate

    build = next((r for r in records if r["stage"] == "build" and "parameters" in r), None)
    several_kept = len(case.widths) > 1 and ((case.infer and not case.free_between) or
                                             (case.validate and not case.free_val))
    if case.loader_workers >= 0 or build is None or several_kept:
        return None
    widths = tuple(case.widths)
    shape = RunShape(build["parameters"], build["hidden_size"], build["hidden_layers"], case.batch,
                     () if case.infer else widths, case.dynamic, widths if case.infer or case.validate else (),
                     accum_grad=case.accum_grad, bins=case.n_mels or RunShape.bins)
    return estimate(shape).total


def describe(case: Case) -> str:
    knobs = [f"{k}={v}" for k, v in (("mem_opt", case.memory_optimize_level), ("jit", case.jit_level),
                                     ("max_size", case.max_size)) if v]
    if case.free_between:
        knobs.append("free between widths")
    if case.accum_grad > 1:
        knobs.append(f"accum_grad {case.accum_grad}: effective batch {case.accum_grad * case.batch}")
    if case.n_mels:
        knobs.append(f"{case.n_mels} log-mel bands")
    if case.recompute:
        knobs.append(f"recompute {case.recompute}")
    if case.validate:
        knobs.append("then validation" + (", one graph at a time" if case.free_val else ""))
    axis = "dynamic" if case.dynamic else "static"
    size = case.model_size + (f" {case.hidden_layers} layers" if case.hidden_layers else "")
    return (f"{size}{' infer' if case.infer else ''} b{case.batch} {axis} conv {case.conv_impl}"
            + (f" ({', '.join(knobs)})" if knobs else ""))


def print_table(results: List[Dict]) -> None:
    print("\n| case | widths in turn | RSS after import / build (GB) | peak after each width (GB) "
          "| added per width (GB) | last step (s) | predicted peak (GB) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for case, result in results:
        recs = result["records"]
        build = [r for r in recs if r["stage"] == "build"]
        base = [r["rss_gb"] for r in recs if r["stage"] == "import"] + [r["rss_gb"] for r in build[:1]]
        peaks, added, last = [], [], ""
        previous = build[0]["hwm_gb"] if build else 0.0
        for phase in ("train", "infer"):
            for width in case.widths:
                steps = [r for r in recs if r.get("phase") == phase and r.get("width") == width]
                if not steps:
                    continue
                tag = "val " if phase == "infer" and not case.infer else ""
                peaks.append(f"{tag}{steps[-1]['hwm_gb']:.2f}")
                added.append(f"{tag}{steps[-1]['hwm_gb'] - previous:+.2f}")
                previous = steps[-1]["hwm_gb"]
                last = f"{steps[-1]['seconds']:.1f}"
        status = result["killed"] or (f"failed: {result['failed']}" if result["failed"] else "")
        predicted = predicted_gb(case, recs)
        print(f"| {describe(case)} | {','.join(map(str, case.widths))} | {' / '.join(f'{b:.2f}' for b in base)} "
              f"| {', '.join(peaks)}{' ' + status if status else ''} | {', '.join(added)} | {last} "
              f"| {'' if predicted is None else f'{predicted:.2f}'} |", flush=True)


def print_loader(case: Case, result: Dict) -> None:
    recs = result["records"]
    how = f"batch {case.batch}, {case.loader_workers} workers ({case.start_method or 'fork'})" + \
        (f", parent holding and rewriting {case.held_gb:g} GB" if case.held_gb else "")
    if not recs or result["killed"] or result["failed"]:
        print(f"loader, {how}: {result['killed'] or result['failed'] or 'no batch'}", flush=True)
        return
    main = max(r["hwm_gb"] for r in recs)
    workers = max(r.get("children_gb", 0.0) for r in recs)
    tree = max(r.get("tree_pss_gb", 0.0) for r in recs)
    print(f"loader, {how}: main process peak RSS {main:.2f} GB, workers' RSS {workers:.2f} GB together, "
          f"tree's physical memory (PSS) {tree:.2f} GB = main + {tree - main:.2f} GB", flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ints = lambda text: [int(v) for v in text.split(",") if v]  # noqa: E731
    parser.add_argument("--model_size", default="small", choices=["tiny", "small", "medium", "full"])
    parser.add_argument("--hidden_layers", type=int, default=0, help="override the size's LSTM layer count")
    parser.add_argument("--infer", action="store_true", help="the inference graph (validation) instead of training")
    parser.add_argument("--validate", action="store_true",
                        help="after training, the inference graph (validation) through the same widths")
    parser.add_argument("--free_val", action="store_true", help="with --validate: one inference graph at a time")
    parser.add_argument("--batch", type=ints, default=[1, 2, 4], help="batch sizes, comma-separated")
    parser.add_argument("--widths", type=ints, default=[512, 1024, 2048], help="padded widths (frames)")
    parser.add_argument("--sequence", action="store_true",
                        help="one process per batch size, stepping through all widths in turn")
    parser.add_argument("--dynamic", action="store_true", help="declare the time axis dynamic (max_static_shapes)")
    parser.add_argument("--conv_impl", default="auto", choices=["auto", "direct", "dft"])
    parser.add_argument("--steps", type=int, default=2, help="steps per width")
    parser.add_argument("--label_len", type=int, default=0, help="CTC label pad (0: 0.15 x the widest width)")
    parser.add_argument("--memory_optimize_level", default="", choices=["", "O0", "O1"])
    parser.add_argument("--jit_level", default="", choices=["", "O0", "O1", "O2"])
    parser.add_argument("--max_size", default="", help="ms.runtime.set_memory(max_size=...), e.g. 4GB")
    parser.add_argument("--free_between", action="store_true", help="free the previous width's graph first")
    parser.add_argument("--recompute", default="", type=recomputable,
                        help="recompute these blocks in the backward pass instead of keeping their activations: "
                             "comma-separated, of " + ", ".join(RECOMPUTABLE))
    parser.add_argument("--n_mels", type=int, default=0,
                        help="the network for N log-mel bands (train.py's --n_mels); 0 = the 161 linear bins")
    parser.add_argument("--accum_grad", type=int, default=1,
                        help="gradient accumulation: one update every N steps (train.py's --accum_grad)")
    parser.add_argument("--loader", action="store_true",
                        help="profile the data loader (1 worker: in-process; 2: worker processes) on the LibriSpeech "
                             "sample instead")
    parser.add_argument("--held_gb", type=float, default=0.0,
                        help="--loader: the parent first holds (and keeps rewriting) this much memory")
    parser.add_argument("--start_method", default="", choices=["", "fork", "spawn"],
                        help="--loader: the worker processes' start method (default: MindSpore's, fork)")
    parser.add_argument("--verbose", action="store_true", help="print every report line of every case")
    parser.add_argument("--rss_limit_gb", type=float, default=6.0,
                        help="kill a case whose processes together (summed PSS) pass this (0 = never)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="kill a case after this many seconds")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def cases_from(args) -> List[Case]:
    common = dict(model_size=args.model_size, hidden_layers=args.hidden_layers, infer=args.infer,
                  validate=args.validate, free_val=args.free_val, dynamic=args.dynamic, conv_impl=args.conv_impl,
                  steps=args.steps, label_len=args.label_len, memory_optimize_level=args.memory_optimize_level,
                  jit_level=args.jit_level, max_size=args.max_size, free_between=args.free_between,
                  accum_grad=args.accum_grad, n_mels=args.n_mels, recompute=args.recompute)
    if args.loader:
        return [Case(batch=b, widths=[args.widths[0]], loader_workers=w, held_gb=args.held_gb,
                     start_method=args.start_method) for b in args.batch for w in (1, 2)]
    if args.sequence:
        return [Case(batch=b, widths=list(args.widths), **common) for b in args.batch]
    return [Case(batch=b, widths=[w], **common) for b in args.batch for w in args.widths]


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        case = Case(**json.loads(args.child))
        (loader_child if case.loader_workers >= 0 else step_child)(case)
        return
    from src.training.memory_budget import available_gb

    print(f"python {sys.version.split()[0]}, ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}, "
          f"MS_ALLOC_CONF={os.environ.get('MS_ALLOC_CONF', '')}, available {available_gb():.1f} GB", flush=True)
    results = []
    for case in cases_from(args):
        result = run_case(case, args.rss_limit_gb, args.timeout)
        if case.loader_workers >= 0:
            print_loader(case, result)
            continue
        results.append((case, result))
        if args.verbose:
            for record in result["records"]:
                print("   ", {k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()})
        peak = max((r["hwm_gb"] for r in result["records"]), default=float("nan"))
        print(f"{describe(case)} widths {case.widths}: peak {peak:.2f} GB "
              f"{result['killed'] or result['failed']}", flush=True)
    if results:
        print_table(results)


if __name__ == "__main__":
    main()
