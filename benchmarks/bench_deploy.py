"""Deployment benchmark: the same recordings through the checkpoint (MindSpore), the dynamic MINDIR
(MindSpore, ``export.py``'s default), ONNX float32 and ONNX INT8.

Each backend runs in a process of its own, one after the other, on the same files with the same
greedy decoder, after one warm-up file, so the peak memory reported is its own (the ONNX
processes never load MindSpore). Per backend: model file size, real-time factor (features +
network + decoding seconds per second of audio), peak resident memory, WER/CER against the
reference transcripts, and CER against the checkpoint's transcripts, which shows what the format
changes even when the weights are random.

Usage (from the project root):
    python -m benchmarks.bench_deploy --checkpoint model.ckpt --files 50   # the whole LibriSpeech sample
    python -m benchmarks.bench_deploy --model_size small --files 6        # random weights: speed, memory, size
    python -m benchmarks.bench_deploy --checkpoint model.ckpt --manifest test.csv --files 0   # a held-out set of yours
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

LIBRI_SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                            "librispeech-sample", "LibriSpeech", "test-other")
BACKENDS = ("checkpoint", "mindir", "onnx", "onnx-int8")


def sample_files(count: int) -> List[str]:
    return sorted(glob.glob(os.path.join(LIBRI_SAMPLE, "*", "*", "*.flac")))[:count]


def manifest_files(manifest: str, count: int) -> Tuple[List[str], List[str]]:
    """The first ``count`` (0 = all) recordings of a manifest and their transcripts, normalised to the labels."""
    from src.data.labels import DEFAULT_LABELS_PATH, Labels
    from src.data.manifest import read_manifest

    labels = Labels.load(DEFAULT_LABELS_PATH)
    entries = read_manifest(manifest)[:count or None]
    return ([e.wav_path for e in entries],
            [labels.normalise(open(e.txt_path, encoding="utf-8").read())[0] for e in entries])


def references(paths: List[str]) -> List[str]:
    """LibriSpeech transcripts (``<speaker>-<chapter>.trans.txt`` beside each file), normalised to the labels."""
    from src.data.labels import DEFAULT_LABELS_PATH, Labels

    labels = Labels.load(DEFAULT_LABELS_PATH)
    texts = {}
    for path in paths:
        folder = os.path.dirname(path)
        for trans in glob.glob(os.path.join(folder, "*.trans.txt")):
            for line in open(trans, encoding="utf-8"):
                key, _, text = line.strip().partition(" ")
                texts[key] = labels.normalise(text)[0]
    return [texts[os.path.basename(path)[:-len(".flac")]] for path in paths]


def prepare_models(args, folder: str) -> Dict[str, str]:
    """backend -> model file: the checkpoint (or a random one of ``--model_size``) and its exports."""
    import src  # noqa: F401
    import mindspore as ms

    from src.config.schema import MODEL_SIZES
    from src.export.mindir import export_mindspore
    from src.export.onnx_graph import build_onnx_model, save_onnx
    from src.export.quantize import quantize_int8
    from src.inference.predictor import load_predictor
    from src.model.checkpoint import save_checkpoint
    from src.model.deepspeech2 import DeepSpeechModel
    from src.model.geometry import DEFAULT_FREQ_BINS

    ms.set_context(mode=ms.PYNATIVE_MODE)
    ckpt = args.checkpoint
    if not ckpt:
        size = MODEL_SIZES[args.model_size]
        ms.set_seed(0)
        ckpt = save_checkpoint(DeepSpeechModel(29, size["hidden_size"], size["hidden_layers"]),
                               os.path.join(folder, f"random-{args.model_size}.ckpt"))
    predictor, hidden, layers = load_predictor(ckpt, 29)
    start = time.perf_counter()
    fp32 = save_onnx(build_onnx_model(predictor), os.path.join(folder, "model.onnx"))
    exported = time.perf_counter()
    int8 = quantize_int8(fp32, os.path.join(folder, "model.int8.onnx"))
    quantized = time.perf_counter()
    # last: a dynamic MINDIR switches the predictor's conv2 to the direct kernel
    mindir = export_mindspore(predictor, DEFAULT_FREQ_BINS, os.path.join(folder, "model"))
    print(f"{layers} x BiLSTM-{hidden}{'' if args.checkpoint else ' (random weights)'}: ONNX export "
          f"{exported - start:.1f} s, INT8 quantization {quantized - exported:.1f} s, dynamic MINDIR export "
          f"{time.perf_counter() - quantized:.1f} s", flush=True)
    return {"checkpoint": ckpt, "mindir": mindir, "onnx": fp32, "onnx-int8": int8}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ``getrusage``'s ru_maxrss: that survives the
    exec of a forked child, so a worker would report the parent's peak if it was higher."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def worker(backend: str, model: str, paths: List[str], batch_size: int, threads: int) -> Dict:
    """Transcribe ``paths`` with one backend in this process; MindSpore is imported for the checkpoint and
    the MINDIR only."""
    from src.data.features import SpectParams
    from src.data.labels import DEFAULT_LABELS_PATH, Labels
    from src.decoding.greedy import GreedyDecoder
    from src.inference.onnx_predictor import OnnxNetwork, transcribe_files

    n_bins = SpectParams().n_bins
    if backend in ("checkpoint", "mindir"):
        import mindspore as ms

        from src.inference.networks import CheckpointNetwork, MindirNetwork

        ms.set_context(mode=ms.GRAPH_MODE)
        ms.device_context.cpu.op_tuning.threads_num(threads)
        network = (CheckpointNetwork(model, 29, "tanh", batch_size, SpectParams()) if backend == "checkpoint"
                   else MindirNetwork(model, n_bins, batch_size))
    else:
        network = OnnxNetwork(model, n_bins, batch_size, threads)
    decoder = GreedyDecoder(Labels.load(DEFAULT_LABELS_PATH))
    transcribe_files(network, decoder, paths[:1])  # warm-up (MindSpore compiles its graph here)
    start = time.perf_counter()
    texts = transcribe_files(network, decoder, paths)
    return {"seconds": time.perf_counter() - start, "texts": texts,
            "peak_rss_mb": peak_rss_mb(),
            "mindspore_loaded": any(name.split(".")[0] == "mindspore" for name in sys.modules)}


def run_worker(backend: str, model: str, paths: List[str], args) -> Dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_deploy", "--worker", backend, "--model", model,
           "--batch_size", str(args.batch_size), "--threads", str(args.threads), *paths]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{backend} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="", help="trained checkpoint (default: random weights)")
    parser.add_argument("--model_size", default="small", help="size of the random model without --checkpoint")
    parser.add_argument("--files", type=int, default=6, help="the first N recordings of the LibriSpeech sample "
                        "(or of --manifest; 0 = all of it)")
    parser.add_argument("--manifest", default="", help="score these recordings instead (CSV/JSON manifest), e.g. "
                        "a held-out set the checkpoint was not trained on")
    parser.add_argument("--batch_size", type=int, default=1, help="files per network call")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads of every backend")
    parser.add_argument("--out_dir", default="", help="keep the models here (default: a temporary folder)")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.paths, args.batch_size, args.threads)))
        return 0

    from src.evaluation.metrics import ErrorRates

    if args.manifest:
        paths, refs = manifest_files(args.manifest, args.files)
    else:
        paths = sample_files(args.files)
        refs = references(paths)
    if not paths:
        raise SystemExit(f"no recordings in {args.manifest or LIBRI_SAMPLE}")
    import soundfile

    audio_seconds = sum(soundfile.info(path).duration for path in paths)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out_dir or tmp
        os.makedirs(folder, exist_ok=True)
        models = prepare_models(args, folder)
        print(f"{len(paths)} files, {audio_seconds:.1f} s of audio, batch {args.batch_size}, {args.threads} threads")
        results = {backend: run_worker(backend, models[backend], paths, args) for backend in BACKENDS}
        sizes = {backend: os.path.getsize(models[backend]) / 1e6 for backend in BACKENDS}
    print(f"{'backend':<11} {'file MB':>8} {'RTF':>7} {'speed-up':>8} {'peak MB':>8} {'WER %':>6} {'CER %':>6} "
          f"{'CER vs ckpt %':>13}  MindSpore loaded")
    base = results["checkpoint"]
    for backend, result in results.items():
        truth, same = ErrorRates(), ErrorRates()
        for ref, ckpt_text, text in zip(refs, base["texts"], result["texts"]):
            truth.add(ref, text)
            same.add(ckpt_text, text)
        print(f"{backend:<11} {sizes[backend]:>8.1f} {result['seconds'] / audio_seconds:>7.4f} "
              f"{base['seconds'] / result['seconds']:>7.2f}x {result['peak_rss_mb']:>8.0f} {truth.wer:>6.1f} "
              f"{truth.cer:>6.1f} {same.cer:>13.2f}  {result['mindspore_loaded']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
