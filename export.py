"""Export the inference network (softmax probabilities + output lengths) of a checkpoint to MINDIR."""
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
    parser.add_argument("--pre_trained_model_path", required=True, help="checkpoint to export")
    parser.add_argument("--batch_size", type=int, default=1, help="batch dimension of the exported input")
    parser.add_argument("--input_frames", type=int, default=3500,
                        help="time frames of the exported input (3500 = 35 s, the zoo's eval length)")
    parser.add_argument("--file_name", default="", help="output name (default: the checkpoint's, .mindir)")
    parser.add_argument("--file_format", default="MINDIR", choices=["MINDIR"],
                        help="MINDIR only: MindSpore's ONNX export misplaces DS2's asymmetric conv padding")
    add_device_args(parser)
    args, cfg = parse_with_config(parser, config.eval_config, argv)
    if args.batch_size < 1 or args.input_frames < 1:
        parser.error("--batch_size and --input_frames must be >= 1")

    import mindspore as ms
    import numpy as np

    from src.inference.predictor import load_predictor
    from src.data.labels import Labels

    setup_device(args.device_target, args.device_id)
    labels = Labels.load(cfg.DataConfig.labels_path)
    predictor, hidden, layers = load_predictor(args.pre_trained_model_path, len(labels), cfg.ModelConfig.activation)
    file_name = args.file_name or os.path.splitext(args.pre_trained_model_path)[0]
    file_name = file_name[:-len(".mindir")] if file_name.endswith(".mindir") else file_name
    inputs = ms.Tensor(np.zeros((args.batch_size, 1, 161, args.input_frames), np.float32))
    lengths = ms.Tensor(np.full((args.batch_size,), args.input_frames, np.int32))
    tmp = f"{file_name}.tmp{os.getpid()}"
    ms.export(predictor, inputs, lengths, file_name=tmp, file_format="MINDIR")
    os.replace(tmp + ".mindir", file_name + ".mindir")
    print(f"exported {layers} x BiLSTM-{hidden}, input [{args.batch_size}, 1, 161, {args.input_frames}] float32 "
          f"+ lengths [{args.batch_size}] int32 -> {file_name}.mindir")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
