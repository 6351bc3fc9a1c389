"""Train DeepSpeech2 (model-zoo flags; any config key can be overridden, e.g. --epochs 5)."""
import argparse
import sys

import src  # noqa: F401  (caps oneDNN at AVX2 before MindSpore loads)
import config
from src.config.overrides import parse_with_config
from src.common.device import add_device_args, setup_device
from src.common.errors import run_main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--pre_trained_model_path", default="", help="checkpoint to start from (fine-tuning)")
    parser.add_argument("--reset_output_layer", action="store_true",
                        help="with --pre_trained_model_path: start a new output layer (another labels.json); "
                             "every other layer must come from the checkpoint")
    parser.add_argument("--resume", default="", help="checkpoint to continue, or 'auto' for the newest in ckpt_path")
    parser.add_argument("--is_distributed", action="store_true", help="data-parallel training under msrun")
    parser.add_argument("--bidirectional", action="store_false", help="kept for the zoo; always bidirectional")
    parser.add_argument("--model_size", choices=sorted(config.MODEL_SIZES), help="named model size")
    add_device_args(parser)
    args, cfg = parse_with_config(parser, config.train_config, argv)
    if args.reset_output_layer and not args.pre_trained_model_path:
        parser.error("--reset_output_layer needs --pre_trained_model_path")

    from src.common.distributed import init_distributed, local_device_id
    from src.training.trainer import TrainOptions, train
    setup_device(args.device_target, local_device_id(args.device_id) if args.is_distributed else args.device_id)
    opts = TrainOptions(args.pre_trained_model_path, args.resume, reset_output_layer=args.reset_output_layer)
    if args.is_distributed:
        opts.rank, opts.group_size = init_distributed()
    from src.common.signals import stop_on_signals
    with stop_on_signals():  # Ctrl-C / SIGTERM: save a checkpoint, exit 130 / 143
        summary = train(cfg, opts)
    print(f"training finished: last loss {summary['last_loss']:.4f}; checkpoints in {cfg.CheckpointConfig.ckpt_path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
