"""Transcribe audio files (any format/rate sox reads) with a checkpoint, an exported MINDIR or ONNX model.

    python transcribe.py --pretrain_ckpt model.ckpt a.flac b.mp3 [--json out.json]
    python transcribe.py --mindir model.mindir --decoder_type beam --lm_path lm.arpa talk.wav
    python transcribe.py --onnx model.int8.onnx talk.wav      # ONNX Runtime only: MindSpore is not loaded

Prints ``path: text`` per file; ``--json`` adds per-word start/end times (seconds, from the CTC
alignment). Long recordings are cut into chunks at silences (``--chunk_seconds``), so memory
stays bounded. Decoding follows LMConfig (``--decoder_type greedy|beam``, ``--lm_path``,
``--alpha``, ``--beta``, ``--beam_width``, ``--lm_workers``, ...), as in eval.py.
"""
import argparse
import json
import resource
import sys

import src  # noqa: F401  (caps oneDNN at AVX2 before MindSpore loads)
import config
from src.config.overrides import parse_with_config
from src.common.device import add_device_args, setup_device
from src.common.errors import run_main


def join_override_values(argv, parser: argparse.ArgumentParser):
    """``--key value`` -> ``--key=value`` for the config overrides (options this parser does not
    define), so that argparse never takes an override's value for an audio file."""
    own = parser._option_string_actions  # argparse's table of the options it defines
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and "=" not in arg and arg not in own and i + 1 < len(argv):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
        else:
            out.append(arg)
            i += 1
    return out


def load_network(args, cfg, params, classes: int):
    """The network the flags name, for the features ``params`` computes. MindSpore is loaded for a
    checkpoint or a MINDIR only: ``--onnx`` runs on ONNX Runtime alone."""
    if args.onnx:
        from src.inference.onnx_predictor import OnnxNetwork
        return OnnxNetwork(args.onnx, batch_size=args.batch_size, features=params)
    from src.inference.networks import CheckpointNetwork, MindirNetwork
    setup_device(args.device_target, args.device_id)
    if args.mindir:
        return MindirNetwork(args.mindir, params.n_bins, args.batch_size)
    return CheckpointNetwork(args.pretrain_ckpt, classes, cfg.ModelConfig.activation, args.batch_size, params,
                             cfg.ModelConfig.conv_impl)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("audio", nargs="+", help="audio files")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--pretrain_ckpt", help="checkpoint (.ckpt)")
    model.add_argument("--mindir", help="exported MINDIR (export.py): a dynamic one takes any batch and length; "
                                        "a fixed one's batch and frames fix the chunking")
    model.add_argument("--onnx", help="exported ONNX model (export.py --file_format ONNX, float32 or INT8), "
                                      "run by ONNX Runtime without MindSpore")
    parser.add_argument("--chunk_seconds", type=float, default=20.0, help="longest chunk given to the network")
    parser.add_argument("--search_seconds", type=float, default=8.0,
                        help="a chunk ends at the quietest point of its last this-many seconds")
    parser.add_argument("--batch_size", type=int, default=4,
                        help="chunks per network call (checkpoint, ONNX, dynamic MINDIR)")
    parser.add_argument("--json", default="", help="write results with word times here ('-': to stdout)")
    add_device_args(parser)
    argv = join_override_values(sys.argv[1:] if argv is None else list(argv), parser)
    args, cfg = parse_with_config(parser, config.eval_config, argv)
    if args.chunk_seconds <= 0 or args.search_seconds <= 0 or args.batch_size < 1:
        parser.error("--chunk_seconds and --search_seconds must be > 0, --batch_size >= 1")

    from src.decoding.select import build_decoder
    from src.data.features import SpectParams
    from src.data.labels import Labels
    from src.common.files import atomic_write_text
    from src.inference.transcribe import Transcriber
    from src.model.geometry import num_classes

    labels = Labels.load(cfg.DataConfig.labels_path)
    results, failed = [], 0
    # the LM is loaded and its workers forked before the network runs; they are stopped however this ends
    with build_decoder(labels, cfg.LMConfig) as decoder:
        params = SpectParams.from_config(cfg.DataConfig.SpectConfig)
        network = load_network(args, cfg, params, num_classes(labels))
        print(f"model: {network.description}; decoding: {decoder.describe()}", file=sys.stderr)
        transcriber = Transcriber(network, decoder, params, args.chunk_seconds, args.search_seconds)
        for result in transcriber.run(args.audio):
            if result.error:
                failed += 1
                print(f"error: {result.error}", file=sys.stderr)
            elif args.json != "-":
                print(f"{result.path}: {result.text}", flush=True)
            results.append(result.as_dict())
    speed = transcriber.speed
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_second = speed.decode_seconds / max(speed.audio_seconds, 1e-9)
    summary = {"files": len(results), "failed": failed, "audio_seconds": round(speed.audio_seconds, 3),
               "chunks": speed.chunks, "network_seconds": round(speed.network_seconds, 3),
               "decode_seconds": round(speed.decode_seconds, 3), "decode_seconds_per_audio_second": per_second,
               "decoder": decoder.describe(), "peak_rss_mb": round(peak_mb, 1)}
    print(f"{len(results)} file(s), {speed.audio_seconds:.1f} s of audio in {speed.chunks} chunk(s): features + network "
          f"{speed.network_seconds:.2f} s, decoding {speed.decode_seconds:.2f} s ({per_second:.4f} s per second "
          f"of audio); peak RSS {peak_mb:.0f} MB", file=sys.stderr)
    if args.json:
        text = json.dumps({"results": results, "summary": summary}, indent=1) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            atomic_write_text(args.json, text)
            print(f"results written to {args.json}", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(run_main(main))
