"""CPU speed, side by side in one process: our MindSpore DeepSpeech2 against the same network in PyTorch.

Both sides get the same input tensors, the same thread count and the same machine load (their
steps are interleaved: ours, PyTorch's, ours, ...), so a busy shared CPU slows both alike; medians
are reported. Also printed: peak resident memory, the data pipeline's throughput on the real
LibriSpeech sample against what a training step consumes, and the projected time of one
train-clean-100 epoch.

Usage (from the project root, with the venv active; PyTorch from requirements-bench.txt):
    python -m benchmarks.bench_speed            # full + small model, train + inference
    python -m benchmarks.bench_speed --torch_padded --steps 3 --warmup 1   # the table in docs/speed.md
    python -m benchmarks.bench_speed --quick    # fewer steps
    python -m benchmarks.bench_speed --padded_only --steps 3 --warmup 1 --no_pipeline   # against padded PyTorch only
    python -m benchmarks.bench_speed --cases small --steps 3
    python -m benchmarks.bench_speed --cases --shape small:4x2048 --activation hardtanh --rnn_batch_norm
                                                # a real-speech shape (batch 4 x 2048 frames) instead
    python -m benchmarks.bench_speed --profile  # then where our step's time goes (benchmarks/profile_step.py)
"""
import argparse
import copy
import gc
import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np

# MindSpore's oneDNN ISA is chosen per process (src/common/cpu_isa.py); should that choice fall back to
# the environment variable, PyTorch (its own oneDNN copy reads it when it first runs) gets the user's back below.
USER_ONEDNN_ISA = os.environ.get("ONEDNN_MAX_CPU_ISA")

import src  # noqa: E402,F401
import mindspore as ms  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mindspore import Tensor  # noqa: E402

from src.common.cpu_isa import isa_in_force  # noqa: E402

import config  # noqa: E402
from src.data.augment import AugmentParams  # noqa: E402
from src.config.overrides import apply_model_size, apply_overrides  # noqa: E402
from src.config.schema import CONV_IMPLS, MODEL_SIZES  # noqa: E402
from src.data.batching import BatchSource, create_dataset  # noqa: E402
from src.model.deepspeech2 import PredictWithSoftmax, build_model  # noqa: E402
from src.model.geometry import rnn_input_size  # noqa: E402
from src.data.features import SpectParams  # noqa: E402
from src.data.labels import Labels  # noqa: E402
from src.tools.noise import make_noise_dir  # noqa: E402
from src.data.sample_check import Utterance  # noqa: E402
from src.training.step import TrainStep, build_train_step as configured_train_step  # noqa: E402

LIBRI_SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                            "librispeech-sample", "LibriSpeech")
TRAIN_CLEAN_100_HOURS = 100.6
REFERENCE_EPOCH_HOURS = 50.0  # the model zoo's CPU figure, on 8 cores
CHARS_PER_SECOND = 15  # LibriSpeech transcripts: ~15 characters per second of speech


@dataclass(frozen=True)
class Case:
    name: str
    model_size: str
    batch_size: int
    seconds: float

    @property
    def frames(self) -> int:
        """Feature frames of the batch's longest row (10 ms hop, one more for the last window)."""
        return 1 + round(self.seconds * 100)


CASES = {"full": Case("full", "full", 4, 10.0), "small": Case("small", "small", 16, 5.0)}


def shape_case(text: str) -> Case:
    """``MODEL:BATCHxFRAMES`` (e.g. ``small:4x2048``, a long real-speech batch) as a Case."""
    try:
        model_size, dims = text.split(":")
        batch, frames = (int(v) for v in dims.lower().split("x"))
    except ValueError:
        message = f"--shape {text!r}: expected MODEL:BATCHxFRAMES, e.g. small:4x2048"
        raise argparse.ArgumentTypeError(message) from None
    if model_size not in MODEL_SIZES or batch < 1 or frames < 2:
        raise argparse.ArgumentTypeError(f"--shape {text!r}: model one of {', '.join(MODEL_SIZES)}, "
                                         "batch >= 1, frames >= 2")
    return Case(f"{model_size} {batch}x{frames}", model_size, batch, (frames - 1) / 100)


# ----------------------------------------------------------------------------- the PyTorch network
class TorchMaskConv(torch.nn.Module):
    """deepspeech.pytorch's MaskConv with the zoo's shapes: padded frames zeroed after each block."""

    def __init__(self, activation: str):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, (41, 11), stride=(2, 2), padding=(20, 5), bias=False)
        self.bn1 = torch.nn.BatchNorm2d(32)
        self.conv2 = torch.nn.Conv2d(32, 32, (21, 11), stride=(2, 1), padding=(10, 5), bias=False)
        self.bn2 = torch.nn.BatchNorm2d(32)
        self.act = {"tanh": torch.nn.Tanh(), "hardtanh": torch.nn.Hardtanh(0, 20), "relu": torch.nn.ReLU()}[activation]

    def forward(self, x, out_lengths):
        x = self.act(self.bn1(self.conv1(x)))
        mask = (torch.arange(x.shape[3])[None, :] < out_lengths[:, None]).to(x.dtype)[:, None, None, :]
        x = x * mask
        return self.act(self.bn2(self.conv2(x))) * mask


class TorchDeepSpeech(torch.nn.Module):
    """The same DeepSpeech2: conv front-end, BiLSTMs (directions summed), Linear without bias.

    ``packed`` (deepspeech.pytorch's way) runs each LSTM on a ``pack_padded_sequence``, so the
    backward direction starts at each utterance's real end, as ours does. Without it the LSTMs
    run over the padding too (PyTorch's fused kernel, faster but not length-correct): a lower
    bound for PyTorch's step time, not the same computation.
    """

    def __init__(self, hidden: int, layers: int, activation: str, rnn_batch_norm: bool, packed: bool = True,
                 classes: int = 29):
        super().__init__()
        self.packed = packed
        self.conv = TorchMaskConv(activation)
        sizes = [rnn_input_size()] + [hidden] * (layers - 1)
        self.lstms = torch.nn.ModuleList([torch.nn.LSTM(s, hidden, bidirectional=True) for s in sizes])
        self.norms = torch.nn.ModuleList([torch.nn.BatchNorm1d(hidden) for _ in range(layers - 1)]
                                         if rnn_batch_norm else [])
        self.fc = torch.nn.Linear(hidden, classes, bias=False)
        self.hidden = hidden

    def forward(self, x, lengths):
        out_lengths = (lengths - 1) // 2 + 1
        x = self.conv(x, out_lengths)
        n, c, f, t = x.shape
        x = x.reshape(n, c * f, t).permute(2, 0, 1).contiguous()
        for i, lstm in enumerate(self.lstms):
            if self.norms and i > 0:
                x = self.norms[i - 1](x.reshape(t * n, -1)).reshape(t, n, -1)
            if self.packed:
                packed = torch.nn.utils.rnn.pack_padded_sequence(x, out_lengths, enforce_sorted=False)
                x, _ = torch.nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], total_length=t)
            else:
                x, _ = lstm(x)
            x = x[..., :self.hidden] + x[..., self.hidden:]
        return self.fc(x), out_lengths


def copy_parameters(ours, theirs: TorchDeepSpeech) -> None:
    """Give the PyTorch network our parameters (zoo names -> PyTorch names), to check both compute the same."""
    renames = {".gamma": ".weight", ".beta": ".bias", ".moving_mean": ".running_mean",
               ".moving_variance": ".running_var", "RNN.": "", "fc.module.": "fc.", ".module.": "."}
    state = {}
    for param in ours.get_parameters():
        name = param.name
        for old, new in renames.items():
            name = name.replace(old, new)
        state[name] = torch.from_numpy(param.asnumpy().copy())
    missing = set(theirs.state_dict()) - set(state) - {k for k in theirs.state_dict() if "num_batches" in k}
    if missing:
        raise KeyError(f"no MindSpore parameter for {sorted(missing)}")
    theirs.load_state_dict(state, strict=False)


# ----------------------------------------------------------------------------- one case, both sides
def make_batch(case: Case, pad_multiple: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Features of ``case.seconds`` (rows shortened by up to 10 %, as in a sorted bucket), labels."""
    frames = case.frames
    width = -(-frames // pad_multiple) * pad_multiple
    lengths = np.linspace(frames, int(frames * 0.9), case.batch_size).astype(np.int32)
    x = np.zeros((case.batch_size, 1, 161, width), np.float32)
    for row, length in enumerate(lengths):
        x[row, 0, :, :length] = rng.standard_normal((161, length))
    label_len = int(case.seconds * CHARS_PER_SECOND)
    label_lengths = np.linspace(label_len, int(label_len * 0.9), case.batch_size).astype(np.int32)
    labels = np.full((case.batch_size, label_len), 28, np.int32)
    for row, length in enumerate(label_lengths):
        labels[row, :length] = rng.integers(0, 28, length)
    return {"x": x, "lengths": lengths, "labels": labels, "label_lengths": label_lengths,
            "weights": np.ones(case.batch_size, np.float32)}


def model_config(case: Case, args):
    cfg = copy.deepcopy(config.train_config)
    apply_model_size(cfg, case.model_size)
    return apply_overrides(cfg, ["--activation", args.activation, "--rnn_batch_norm", str(args.rnn_batch_norm),
                                 "--conv_impl", args.conv_impl])


def build_train_step(cfg, steps: int) -> TrainStep:
    """The trainer's step for ``cfg``'s network, with a constant LR for ``steps`` optimiser updates."""
    return configured_train_step(build_model(cfg.ModelConfig, 29), cfg.OptimConfig, np.full(steps, 3e-4, np.float32))


def mindspore_side(case: Case, cfg, batch, steps: int) -> Dict[str, Callable[[], float]]:
    train_step = build_train_step(cfg, steps)
    predictor = PredictWithSoftmax(train_step.loss_net.network)
    inputs = [Tensor(batch[k]) for k in ("x", "lengths", "labels", "weights")]

    def train() -> float:
        train_step.set_train(True)
        loss, _ = train_step(*inputs)
        return float(loss.asnumpy())

    def infer() -> float:
        predictor.set_train(False)
        probs, _ = predictor(inputs[0], inputs[1])
        return float(probs.asnumpy()[0, 0, 0])

    return {"train": train, "infer": infer}


def torch_side(case: Case, cfg, batch, packed: bool = True) -> Dict[str, Callable[[], float]]:
    model_cfg = cfg.ModelConfig
    net = TorchDeepSpeech(int(model_cfg.hidden_size), int(model_cfg.hidden_layers), str(model_cfg.activation),
                          bool(model_cfg.rnn_batch_norm), packed)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-4, eps=float(cfg.OptimConfig.epsilon),
                                 weight_decay=float(cfg.OptimConfig.weight_decay))
    x, lengths = torch.from_numpy(batch["x"]), torch.from_numpy(batch["lengths"]).long()
    labels = torch.from_numpy(batch["labels"]).long()
    label_lengths = torch.from_numpy(batch["label_lengths"]).long()

    def train() -> float:
        net.train()
        optimizer.zero_grad()
        logits, out_lengths = net(x, lengths)
        loss = F.ctc_loss(logits.log_softmax(-1), labels, out_lengths, label_lengths, blank=28,
                          reduction="sum", zero_infinity=True) / x.shape[0]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), float(cfg.OptimConfig.max_grad_norm))
        optimizer.step()
        return loss.item()

    def infer() -> float:
        net.eval()
        with torch.inference_mode():
            logits, _ = net(x, lengths)
            return float(logits.softmax(-1).transpose(0, 1)[0, 0, 0])

    return {"train": train, "infer": infer}


def restore_user_onednn_isa() -> None:
    """Call after MindSpore's oneDNN has run once (its cap is fixed then), before PyTorch's runs."""
    if USER_ONEDNN_ISA is None:
        os.environ.pop("ONEDNN_MAX_CPU_ISA", None)
    else:
        os.environ["ONEDNN_MAX_CPU_ISA"] = USER_ONEDNN_ISA


def timed(fn: Callable[[], float]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(sides: Dict[str, Callable[[], float]], warmup: int, steps: int) -> Dict[str, List[float]]:
    """Seconds of each side's ``steps`` timed calls, the sides run in turn after ``warmup`` untimed calls."""
    for _ in range(warmup):
        for fn in sides.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in sides}
    for _ in range(steps):
        for name, fn in sides.items():
            times[name].append(timed(fn))
    return times


# ----------------------------------------------------------------------------- memory, data pipeline
def rss_gb() -> str:
    with open("/proc/self/status", encoding="ascii") as fh:
        fields = dict(line.split(":", 1) for line in fh if ":" in line)
    now = int(fields["VmRSS"].split()[0]) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return f"RSS now {now:.2f} GB, peak {peak:.2f} GB"


def librispeech_sample(labels: Labels, params: SpectParams) -> List[Utterance]:
    utts = []
    for folder, _, files in sorted(os.walk(LIBRI_SAMPLE)):
        for name in sorted(f for f in files if f.endswith(".trans.txt")):
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                for line in fh:
                    key, text = line.strip().split(" ", 1)
                    path = os.path.join(folder, key + ".flac")
                    frames = params.num_frames(sf.info(path).frames)
                    text = labels.normalise(text)[0]
                    utts.append(Utterance(path, text, tuple(labels.encode(text)), frames, f"{name}:{key}"))
    return utts


def pipeline_throughput(batch_size: int, workers: int, passes: int, feature_fn=None,
                        augment: AugmentParams = AugmentParams()) -> Dict[str, float]:
    """Utterances/s and audio seconds/s of load + features + padding through the real data pipeline."""
    labels = Labels.load(config.LABELS_PATH)
    params = SpectParams()
    utts = librispeech_sample(labels, params)
    order = sorted(range(len(utts)), key=lambda i: utts[i].frames)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    audio_seconds = sum(u.frames for u in utts) * params.hop / params.sample_rate
    rates = []
    for _ in range(passes):
        source = BatchSource(utts, batches, params, labels.blank, batch_size, 0, 64, feature_fn=feature_fn,
                             augment=augment, epoch=len(rates))
        dataset = create_dataset(source, workers)
        start = time.perf_counter()
        for _ in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True):
            pass
        rates.append(time.perf_counter() - start)
    best = statistics.median(rates)
    return {"utts_per_s": len(utts) / best, "audio_s_per_s": audio_seconds / best, "utts": len(utts),
            "audio_s": audio_seconds}


# ----------------------------------------------------------------------------- main
def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)
    ms.device_context.cpu.op_tuning.threads_num(threads)


def build_parser(description: str = __doc__.split("\n")[0], comparison: bool = True) -> argparse.ArgumentParser:
    """The options of this benchmark; benchmarks/profile_step.py shares them (``comparison=False``:
    without those of the PyTorch comparison and the pipeline report)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cases", nargs="*", default=["full", "small"], choices=sorted(CASES),
                        help="the standard cases (full: 4 x 10 s, small: 16 x 5 s); none with a bare --cases")
    parser.add_argument("--shape", type=shape_case, action="append", default=[], metavar="MODEL:BATCHxFRAMES",
                        help="another case, e.g. small:4x2048 (a long real-speech batch); repeatable")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per side and mode (profile: per part)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side and mode (after compiling)")
    parser.add_argument("--quick", action="store_true", help="2 timed steps, 1 warm-up step")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of both frameworks")
    parser.add_argument("--activation", default="tanh", choices=["tanh", "hardtanh", "relu"])
    parser.add_argument("--rnn_batch_norm", action="store_true")
    parser.add_argument("--conv_impl", default=str(config.train_config.ModelConfig.conv_impl),
                        choices=CONV_IMPLS, help="our convs: ModelConfig.conv_impl")
    parser.add_argument("--workers", type=int, default=int(config.train_config.DataConfig.num_workers),
                        help="data-pipeline workers (default: DataConfig.num_workers)")
    if comparison:
        parser.add_argument("--torch_padded", action="store_true",
                            help="also time PyTorch with unpacked LSTMs (faster, not length-correct)")
        parser.add_argument("--padded_only", action="store_true",
                            help="PyTorch with unpacked LSTMs only (the packed side is ~10x slower on the full model)")
        parser.add_argument("--no_inference", action="store_true")
        parser.add_argument("--no_pipeline", action="store_true")
        parser.add_argument("--profile", action="store_true",
                            help="then profile our training step per part, each case (benchmarks/profile_step.py)")
    parser.add_argument("--matmul_size", type=int, default=2048,
                        help="profile: the square fp32 MatMul whose GFLOP/s sets the roofline")
    parser.add_argument("--no_data", action="store_true",
                        help="profile: skip timing batch assembly on the LibriSpeech sample")
    return parser


def parse_args(argv=None, parser: Optional[argparse.ArgumentParser] = None):
    args = (parser or build_parser()).parse_args(argv)
    if args.quick:
        args.steps, args.warmup = 2, 1
    args.case_list = [CASES[name] for name in args.cases] + args.shape
    if not args.case_list:
        raise SystemExit("no case: name --cases or give a --shape")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    set_threads(args.threads)
    ms.set_seed(0)
    torch.manual_seed(0)
    pad_multiple = int(config.train_config.DataConfig.pad_multiple)
    print(f"threads {args.threads}, torch {torch.__version__}, mindspore {ms.__version__}, "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')}, load {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    train_medians = {}
    mindspore_isa = None  # the cap MindSpore's oneDNN runs under, read when it first ran
    torch_variants = {"PyTorch": True, "PyTorch padded": False} if args.torch_padded else {"PyTorch": True}
    if args.padded_only:
        torch_variants = {"PyTorch padded": False}
    for case in args.case_list:
        name = case.name
        cfg = model_config(case, args)
        batch = make_batch(case, pad_multiple, np.random.default_rng(0))
        ours = mindspore_side(case, cfg, batch, args.steps + args.warmup + 2)
        compile_s = timed(ours["train"])
        mindspore_isa = mindspore_isa or isa_in_force()
        restore_user_onednn_isa()
        theirs = {label: torch_side(case, cfg, batch, packed) for label, packed in torch_variants.items()}
        for mode in ("train", "infer") if not args.no_inference else ("train",):
            label = f"{case.name} model ({case.model_size}) {mode}, batch {case.batch_size} x {case.seconds:g} s"
            if mode == "infer":
                compile_s = timed(ours["infer"])
            times = interleaved({"ours": ours[mode], **{k: v[mode] for k, v in theirs.items()}}, args.warmup,
                                args.steps)
            medians = {k: statistics.median(v) for k, v in times.items()}
            rows.append((label, medians))
            if mode == "train":
                train_medians[name] = medians
            detail = "; ".join(f"{k} {[round(v, 2) for v in vs]}" for k, vs in times.items())
            print(f"{label}: first call incl. compile {compile_s:.1f} s; {detail}; {rss_gb()}", flush=True)
        del ours, theirs
        gc.collect()  # the next case's graphs need the memory (the full model's training graph holds ~8 GB)
    others = list(torch_variants)
    print("\n| case | ours (s) | " + " | ".join(f"{k} (s) | ours / {k}" for k in others) + " |")
    print("| --- | --- |" + " --- | --- |" * len(others))
    for label, medians in rows:
        print(f"| {label} | {medians['ours']:.2f} | "
              + " | ".join(f"{medians[k]:.2f} | {medians['ours'] / medians[k]:.2f}" for k in others) + " |")
    print(f"\npeak memory of this process (both frameworks): {rss_gb()}; load now {os.getloadavg()[0]:.1f}")
    if "full" in train_medians:
        case = CASES["full"]
        steps = TRAIN_CLEAN_100_HOURS * 3600 / (case.batch_size * case.seconds)
        hours = ", ".join(f"{k} {steps * v / 3600:.1f} h" for k, v in train_medians["full"].items())
        print(f"projected train-clean-100 epoch ({TRAIN_CLEAN_100_HOURS} h of audio = {steps:.0f} full-model steps "
              f"of batch {case.batch_size} x {case.seconds:g} s, padding not counted) on {args.threads} threads: "
              f"{hours}; the reference: {REFERENCE_EPOCH_HOURS:g} h on 8 cores")
    if not args.no_pipeline:
        report_pipeline(args, train_medians)
    if args.profile:
        from benchmarks import profile_step  # it imports this module

        profile_step.profile_cases(args, mindspore_isa)


def report_pipeline(args, train_medians) -> None:
    from src.data.feature_cache import FeatureCache

    cases = {case.name: case for case in args.case_list}
    for name, medians in train_medians.items():
        case = cases[name]
        need = case.batch_size * case.seconds / medians["ours"]
        fresh = pipeline_throughput(case.batch_size, args.workers, 1)
        print(f"data pipeline ({args.workers} workers, batch {case.batch_size}, {fresh['utts']} LibriSpeech "
              f"utterances, {fresh['audio_s']:.0f} s of audio): {fresh['utts_per_s']:.1f} utterances/s = "
              f"{fresh['audio_s_per_s']:.0f} s of audio per s; the {name} training step consumes "
              f"{need:.1f} s of audio per s -> {fresh['audio_s_per_s'] / need:.1f}x", flush=True)
        with tempfile.TemporaryDirectory() as cache_dir:
            cache = FeatureCache(cache_dir, SpectParams())
            pipeline_throughput(case.batch_size, args.workers, 1, feature_fn=cache)  # fills the cache
            cached = pipeline_throughput(case.batch_size, args.workers, 2, feature_fn=cache)
        print(f"  with the feature cache (DataConfig.feature_cache_dir, warm): {cached['utts_per_s']:.1f} "
              f"utterances/s = {cached['audio_s_per_s']:.0f} s of audio per s -> "
              f"{cached['audio_s_per_s'] / need:.1f}x", flush=True)
        with tempfile.TemporaryDirectory() as noise_dir:
            make_noise_dir(noise_dir, seconds=20.0)
            augment = AugmentParams(speed_volume_perturb=True, spec_augment=True, noise_dir=noise_dir, noise_prob=0.5)
            augmented = pipeline_throughput(case.batch_size, args.workers, 1, augment=augment)
        print(f"  with augmentation (speed/gain, noise p 0.5, SpecAugment): {augmented['utts_per_s']:.1f} "
              f"utterances/s = {augmented['audio_s_per_s']:.0f} s of audio per s -> "
              f"{augmented['audio_s_per_s'] / need:.1f}x", flush=True)


if __name__ == "__main__":
    main()
