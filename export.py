"""Export the inference network (softmax probabilities + output lengths) of a checkpoint to MINDIR, ONNX or AIR.

    python export.py --pre_trained_model_path model.ckpt                         # model.mindir, any batch and length
    python export.py --pre_trained_model_path model.ckpt --dynamic false --batch_size 1 --input_frames 3500
                                                       # model.mindir fixed at [1, 1, 161, 3500], as the zoo's
    python export.py --pre_trained_model_path model.ckpt --file_format ONNX --quantize int8
                                                       # model.onnx (float32) and model.int8.onnx
"""
import argparse
import os
import sys
from typing import Optional, Tuple

import src  # noqa: F401  (caps oneDNN at AVX2 before MindSpore loads)
import config
from src.config.overrides import parse_with_config
from src.common.device import add_device_args, setup_device
from src.common.errors import ConfigError, run_main

FIXED_BATCH, FIXED_FRAMES = 1, 3500  # a fixed-shape export's input unless --batch_size / --input_frames say


def export_onnx(predictor, network: str, params, file_name: str, quantize: str) -> None:
    """<file_name>.onnx, and with ``quantize`` int8 <file_name>.int8.onnx, for the features ``params``
    (recorded in the files when not the zoo's); prints each file's size."""
    from src.data.features import feature_meta
    from src.export.onnx_graph import build_onnx_model, record_features, save_onnx

    n_bins = params.n_bins
    path = save_onnx(record_features(build_onnx_model(predictor, n_bins), feature_meta(params)), file_name + ".onnx")
    size = os.path.getsize(path)
    print(f"exported {network}, input [batch, 1, {n_bins}, frames] float32 + lengths [batch] int32 -> {path} "
          f"(float32, {size / 1e6:.1f} MB)")
    if quantize == "int8":
        from src.export.quantize import quantize_int8

        int8 = quantize_int8(path, file_name + ".int8.onnx")
        print(f"INT8 LSTM and MatMul weights -> {int8} ({os.path.getsize(int8) / 1e6:.1f} MB, "
              f"{size / os.path.getsize(int8):.1f}x smaller)")


def export_shape(args) -> Optional[Tuple[int, int]]:
    """(batch, frames) of a fixed-shape export, or None for a dynamic one.

    ``--dynamic`` unset: dynamic, unless ``--batch_size`` / ``--input_frames`` name a shape or the export
    is for Ascend (AIR, or ``--device_target Ascend``), whose offline tools take fixed shapes.
    """
    if args.dynamic is None:
        for_ascend = args.file_format == "AIR" or args.device_target == "Ascend"
        dynamic = not (for_ascend or args.batch_size or args.input_frames)
    else:
        dynamic = args.dynamic == "true"
    return None if dynamic else (args.batch_size or FIXED_BATCH, args.input_frames or FIXED_FRAMES)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--pre_trained_model_path", required=True, help="checkpoint to export")
    parser.add_argument("--file_name", default="",
                        help="output name (default: the checkpoint's, with .mindir / .onnx / .air)")
    parser.add_argument("--file_format", default="MINDIR", choices=["MINDIR", "ONNX", "AIR"],
                        help="MINDIR; ONNX (dynamic batch and time), which ONNX Runtime runs without MindSpore "
                             "(transcribe.py --onnx); AIR, for Ascend's offline tools (needs the Ascend backend)")
    parser.add_argument("--dynamic", type=str.lower, choices=["true", "false"], default=None,
                        help="MINDIR/AIR: true = one file for any batch size and length; false = the fixed shape "
                             "--batch_size x --input_frames (some Ascend paths need it). Default: true, false for "
                             "Ascend or when --batch_size / --input_frames are given")
    parser.add_argument("--batch_size", type=int, default=None,
                        help=f"batch dimension of a fixed-shape export (default {FIXED_BATCH})")
    parser.add_argument("--input_frames", type=int, default=None,
                        help=f"time frames of a fixed-shape export (default {FIXED_FRAMES} = 35 s, the zoo's eval "
                             "length)")
    parser.add_argument("--quantize", default="none", choices=["none", "int8"],
                        help="ONNX only: int8 also writes <name>.int8.onnx, LSTM and MatMul weights in INT8 "
                             "(ONNX Runtime's dynamic quantization)")
    add_device_args(parser)
    args, cfg = parse_with_config(parser, config.eval_config, argv)
    shape_given = args.batch_size is not None or args.input_frames is not None
    if any(value is not None and value < 1 for value in (args.batch_size, args.input_frames)):
        parser.error("--batch_size and --input_frames must be >= 1")
    if args.quantize != "none" and args.file_format != "ONNX":
        parser.error(f"--quantize {args.quantize} needs --file_format ONNX")
    if args.file_format == "ONNX" and (args.dynamic == "false" or shape_given):
        parser.error("the ONNX model always takes any batch and length: --dynamic false, --batch_size and "
                     "--input_frames do not apply")
    if args.dynamic == "true" and shape_given:
        parser.error("--batch_size and --input_frames fix the input shape: use them with --dynamic false")
    if args.file_format == "AIR" and args.device_target != "Ascend":
        raise ConfigError("AIR export needs the Ascend backend (--device_target Ascend with the CANN toolkit); "
                          "use --file_format MINDIR or ONNX")
    shape = export_shape(args)

    from src.data.features import SpectParams
    from src.inference.predictor import load_predictor
    from src.data.labels import Labels
    from src.model.geometry import num_classes

    setup_device(args.device_target, args.device_id)
    labels = Labels.load(cfg.DataConfig.labels_path)
    params = SpectParams.from_config(cfg.DataConfig.SpectConfig)
    n_bins = params.n_bins
    predictor, hidden, layers = load_predictor(args.pre_trained_model_path, num_classes(labels),
                                               cfg.ModelConfig.activation, cfg.ModelConfig.conv_impl, features=params)
    network = f"{layers} x BiLSTM-{hidden}"
    file_name = args.file_name or os.path.splitext(args.pre_trained_model_path)[0]
    for suffix in (".mindir", ".onnx", ".air"):
        file_name = file_name[:-len(suffix)] if file_name.endswith(suffix) else file_name
    if args.file_format == "ONNX":
        export_onnx(predictor, network, params, file_name, args.quantize)
        return 0
    from src.export.mindir import export_mindspore

    path = export_mindspore(predictor, n_bins, file_name, args.file_format, shape)
    batch, frames = shape or ("batch", "frames")
    print(f"exported {network}, input [{batch}, 1, {n_bins}, {frames}] float32 + lengths [{batch}] int32 "
          f"-> {path}" + ("" if shape else " (dynamic batch and time)"))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
