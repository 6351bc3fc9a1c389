"""Evaluate a checkpoint: greedy or beam (+ n-gram LM) decoding, per-utterance Ref/Hyp/WER/CER, Test Summary."""
import argparse
import os
import sys

import src  # noqa: F401  (caps oneDNN at AVX2 before MindSpore loads)
import config
from src.config.overrides import parse_with_config
from src.common.device import add_device_args, setup_device
from src.common.errors import run_main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--pretrain_ckpt", required=True, help="checkpoint to evaluate")
    parser.add_argument("--bidirectional", action="store_false", help="kept for the zoo; always bidirectional")
    parser.add_argument("--result_file", default="",
                        help="JSON results (default: <checkpoint>.<manifest>.eval.json beside the checkpoint)")
    add_device_args(parser)
    args, cfg = parse_with_config(parser, config.eval_config, argv)

    from src.data.batching import load_utterances
    from src.data.sample_check import SamplePolicy
    from src.decoding.select import build_decoder
    from src.evaluation.report import write_eval_report
    from src.evaluation.evaluate import evaluate, summary_line, write_results
    from src.data.features import SpectParams
    from src.inference.predictor import load_predictor
    from src.data.labels import Labels
    from src.model.geometry import num_classes

    setup_device(args.device_target, args.device_id)
    data_cfg = cfg.DataConfig
    labels = Labels.load(data_cfg.labels_path)
    # the LM is loaded and its workers forked before the network runs; they are stopped however this ends
    with build_decoder(labels, cfg.LMConfig) as decoder:
        params = SpectParams.from_config(data_cfg.SpectConfig)
        predictor, hidden, layers = load_predictor(args.pretrain_ckpt, num_classes(labels), cfg.ModelConfig.activation,
                                                   cfg.ModelConfig.conv_impl, features=params)
        utts, report = load_utterances(data_cfg.test_manifest, labels, params,
                                       policy=SamplePolicy.from_config(data_cfg))
        print(report.summary(), file=sys.stderr)
        print(f"model: {layers} x BiLSTM-{hidden} from {args.pretrain_ckpt}", file=sys.stderr)
        outcome = evaluate(predictor, utts, labels, params, int(data_cfg.batch_size), int(data_cfg.num_workers),
                           int(data_cfg.pad_multiple), verbose=bool(cfg.verbose), save_output=cfg.save_output,
                           max_static_shapes=int(data_cfg.max_static_shapes), decoder=decoder)
    print(summary_line(outcome["rates"]))
    print(f"decoding ({decoder.describe()}): {outcome['decode_seconds']:.2f} s for {outcome['audio_seconds']:.1f} s "
          f"of audio, {outcome['decode_seconds'] / max(outcome['audio_seconds'], 1e-9):.4f} s per second of audio",
          file=sys.stderr)
    result_file = args.result_file or "{}.{}.eval.json".format(
        os.path.splitext(args.pretrain_ckpt)[0], os.path.splitext(os.path.basename(data_cfg.test_manifest))[0])
    write_results(result_file, outcome, {"checkpoint": args.pretrain_ckpt, "manifest": data_cfg.test_manifest,
                                         "skipped": dict(report.skipped), "decoder": decoder.describe(),
                                         "decode_seconds": outcome["decode_seconds"],
                                         "audio_seconds": outcome["audio_seconds"]})
    print(f"results written to {result_file}", file=sys.stderr)
    report = write_eval_report(result_file, outcome, {"checkpoint": args.pretrain_ckpt,
                                                      "manifest": data_cfg.test_manifest,
                                                      "decoder": cfg.LMConfig.decoder_type})
    print(f"report written to {report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
