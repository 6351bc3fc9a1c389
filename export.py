"""Export the inference network (softmax probabilities + output lengths) of a checkpoint to MINDIR or ONNX.

    python export.py --pre_trained_model_path model.ckpt                         # model.mindir
    python export.py --pre_trained_model_path model.ckpt --file_format ONNX --quantize int8
                                                       # model.onnx (float32) and model.int8.onnx
"""
import argparse
import os
import sys

import src  # noqa: F401  (caps oneDNN at AVX2 before MindSpore loads)
import config
from src.config.overrides import parse_with_config
from src.common.device import add_device_args, setup_device
from src.common.errors import run_main
from src.common.files import atomic_path


def export_onnx(predictor, network: str, n_bins: int, file_name: str, quantize: str) -> None:
    """<file_name>.onnx, and with ``quantize`` int8 <file_name>.int8.onnx; prints each file's size."""
    from src.export.onnx_graph import build_onnx_model, save_onnx

    path = save_onnx(build_onnx_model(predictor, n_bins), file_name + ".onnx")
    size = os.path.getsize(path)
    print(f"exported {network}, input [batch, 1, {n_bins}, frames] float32 + lengths [batch] int32 -> {path} "
          f"(float32, {size / 1e6:.1f} MB)")
    if quantize == "int8":
        from src.export.quantize import quantize_int8

        int8 = quantize_int8(path, file_name + ".int8.onnx")
        print(f"INT8 LSTM and MatMul weights -> {int8} ({os.path.getsize(int8) / 1e6:.1f} MB, "
              f"{size / os.path.getsize(int8):.1f}x smaller)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--pre_trained_model_path", required=True, help="checkpoint to export")
    parser.add_argument("--batch_size", type=int, default=1, help="batch dimension of the exported input")
    parser.add_argument("--input_frames", type=int, default=3500,
                        help="time frames of the exported input (3500 = 35 s, the zoo's eval length)")
    parser.add_argument("--file_name", default="", help="output name (default: the checkpoint's, .mindir / .onnx)")
    parser.add_argument("--file_format", default="MINDIR", choices=["MINDIR", "ONNX"],
                        help="MINDIR, or ONNX (dynamic batch and time; --batch_size and --input_frames do not "
                             "apply), which ONNX Runtime runs without MindSpore (transcribe.py --onnx)")
    parser.add_argument("--quantize", default="none", choices=["none", "int8"],
                        help="ONNX only: int8 also writes <name>.int8.onnx, LSTM and MatMul weights in INT8 "
                             "(ONNX Runtime's dynamic quantization)")
    add_device_args(parser)
    args, cfg = parse_with_config(parser, config.eval_config, argv)
    if args.batch_size < 1 or args.input_frames < 1:
        parser.error("--batch_size and --input_frames must be >= 1")
    if args.quantize != "none" and args.file_format != "ONNX":
        parser.error(f"--quantize {args.quantize} needs --file_format ONNX")

    import mindspore as ms
    import numpy as np

    from src.data.features import SpectParams
    from src.inference.predictor import load_predictor
    from src.data.labels import Labels
    from src.model.geometry import num_classes

    setup_device(args.device_target, args.device_id)
    labels = Labels.load(cfg.DataConfig.labels_path)
    n_bins = SpectParams.from_config(cfg.DataConfig.SpectConfig).n_bins
    predictor, hidden, layers = load_predictor(args.pre_trained_model_path, num_classes(labels),
                                               cfg.ModelConfig.activation, cfg.ModelConfig.conv_impl, n_bins)
    file_name = args.file_name or os.path.splitext(args.pre_trained_model_path)[0]
    file_name = file_name[:-len(".mindir")] if file_name.endswith(".mindir") else file_name
    file_name = file_name[:-len(".onnx")] if file_name.endswith(".onnx") else file_name
    if args.file_format == "ONNX":
        export_onnx(predictor, f"{layers} x BiLSTM-{hidden}", n_bins, file_name, args.quantize)
        return 0
    inputs = ms.Tensor(np.zeros((args.batch_size, 1, n_bins, args.input_frames), np.float32))
    lengths = ms.Tensor(np.full((args.batch_size,), args.input_frames, np.int32))
    with atomic_path(file_name + ".mindir") as tmp:  # ends in .mindir, so ms.export adds nothing
        ms.export(predictor, inputs, lengths, file_name=tmp, file_format="MINDIR")
    print(f"exported {layers} x BiLSTM-{hidden}, input [{args.batch_size}, 1, {n_bins}, {args.input_frames}] float32 "
          f"+ lengths [{args.batch_size}] int32 -> {file_name}.mindir")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
