"""What a DeepSpeech2 checkpoint holds, and the eval.py line that evaluates it.

``python -m src.tools.inspect_checkpoint CKPT`` prints the checkpoint's generation (and origin when
recorded), its architecture, parameter count, whether optimizer state is present, the training
position when recorded, and the exact ``eval.py`` command. Any generation that
``src/model/checkpoint_formats.py`` reads is understood; a damaged file is one sentence, exit 2.
"""
import argparse
import shlex
import sys
from typing import List, Mapping, Tuple

from src.common.errors import run_main
from src.data.labels import DEFAULT_LABELS_PATH, Labels
from src.data.features import feature_flags, recorded_features
from src.model.checkpoint_formats import Architecture, LoadReport, architecture, as_arrays, canonical_params


def eval_command(ckpt: str, arch: Architecture, meta: Mapping, num_labels: int) -> str:
    """``python eval.py ...`` for this checkpoint (eval reads the size from the file; the flags say it)."""
    words = ["python", "eval.py", "--pretrain_ckpt", ckpt, "--hidden_size", str(arch.hidden_size),
             "--hidden_layers", str(arch.hidden_layers)]
    if "activation" in meta:
        words += ["--activation", str(meta["activation"])]
    if arch.rnn_batch_norm:
        words += ["--rnn_batch_norm", "true"]
    if arch.fc_batch_norm:
        words += ["--fc_batch_norm", "true"]
    if recorded_features(meta):
        words += feature_flags(meta).split()
    line = " ".join(shlex.quote(w) for w in words)
    if arch.num_classes != num_labels:
        line += f" --labels_path <a labels.json of {arch.num_classes} symbols, blank last>"
    return line


def count_parameters(params: Mapping) -> Tuple[int, int]:
    """(all, trainable) values of a parameter dict: batch-norm moving statistics are not trained."""
    sizes = {name: int(value.size) for name, value in params.items()}
    trainable = sum(size for name, size in sizes.items() if not name.endswith(("moving_mean", "moving_variance")))
    return sum(sizes.values()), trainable


def describe(path: str, file_dict: Mapping, num_labels: int) -> List[str]:
    """The lines ``inspect_checkpoint`` prints for a checkpoint read as name -> array/metadata."""
    params, report = canonical_params(file_dict, source=path)
    arch = architecture(params, path)
    meta = report.meta
    total, trainable = count_parameters(params)
    rows = [("checkpoint", path), ("generation", report.generation)]
    if "origin" in meta:
        rows.append(("origin", meta["origin"]))
    rows.append(("architecture", arch.describe()))
    rows.append(("activation", f"{meta['activation']} (recorded)" if "activation" in meta
                 else "not recorded (the model zoo's tanh is assumed; --activation sets another)"))
    rows.append(("features", f"{feature_flags(meta)} ({'recorded' if recorded_features(meta) else 'the defaults'})"))
    rows.append(("parameters", f"{total:,} ({trainable:,} trainable)"))
    rows.append(("optimizer state", _optimizer_text(report)))
    if "epoch" in meta:
        of = f" of {meta['steps_per_epoch']}" if "steps_per_epoch" in meta else ""
        rows.append(("training position", f"epoch {meta['epoch']}, step {meta.get('step', 0)}{of}"))
    rows.append(("evaluate with", eval_command(path, arch, meta, num_labels)))
    width = max(len(key) for key, _ in rows) + 1
    return [f"{key + ':':<{width}} {value}" for key, value in rows]


def _optimizer_text(report: LoadReport) -> str:
    if not report.optimizer_state:
        return "none (a network-only file)"
    return f"present, ignored when loading the network: {report.optimizer_text()}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("checkpoint", help="a .ckpt file (any model-zoo generation, or this toolkit's)")
    parser.add_argument("--labels_path", default=DEFAULT_LABELS_PATH,
                        help="the labels.json eval.py would use (to check the number of output classes)")
    args = parser.parse_args(argv)
    from src.model.checkpoint import load_param_dict  # MindSpore reads the file

    file_dict = as_arrays(load_param_dict(args.checkpoint))
    print("\n".join(describe(args.checkpoint, file_dict, len(Labels.load(args.labels_path)))))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
