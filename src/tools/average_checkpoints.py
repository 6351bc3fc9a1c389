"""Average the weights of several checkpoints of one run into one checkpoint.

Why: on a few hours of speech the last epochs' weights wander around a minimum; their mean often
scores better on unseen speakers than any one of them (PaddleSpeech's and icefall's recipes average
the last or best epochs). The result is an ordinary network checkpoint for eval.py, export.py,
transcribe.py or fine-tuning (``--pre_trained_model_path``); it holds no optimizer state, so it does
not resume a run.

Every tensor is averaged, BatchNorm's running statistics included (in float64, written back in
the file's dtype); optimizer state is dropped; the activation recorded in the newest file is kept.
Files of different networks (other names or shapes, another activation) are refused in one
sentence naming the file and the first tensor that differs.

    python -m src.tools.average_checkpoints --out avg.ckpt A.ckpt B.ckpt C.ckpt
    python -m src.tools.average_checkpoints --out avg.ckpt --ckpt_dir checkpoint --last 3
"""
import argparse
import os
import sys
from typing import Dict, List, Sequence

import numpy as np

from src.common.errors import CheckpointError, ConfigError, run_main
from src.data.features import feature_flags, recorded_features


def checkpoints_to_average(files: Sequence[str], ckpt_dir: str, prefix: str, last: int) -> List[str]:
    """The files named, or the newest ``last`` of ``ckpt_dir``'s ``<prefix>-<epoch>_<step>.ckpt`` series."""
    from src.model.checkpoint import list_checkpoints

    if files and ckpt_dir:
        raise ConfigError("give checkpoint files or --ckpt_dir with --last, not both")
    if files:
        return list(files)
    if not ckpt_dir:
        raise ConfigError("no checkpoints: give their files, or --ckpt_dir and --last")
    if last < 1:
        raise ConfigError(f"--last {last}: average at least 1 checkpoint")
    series = list_checkpoints(ckpt_dir, prefix)
    if len(series) < last:
        raise ConfigError(f"--last {last}: {ckpt_dir} holds {len(series)} checkpoint(s) named {prefix}-<epoch>_<step>.ckpt")
    return [path for _, _, path in series[-last:]]


def _network_tensors(path: str):
    """(tensors, metadata) of one checkpoint file, optimizer state left out."""
    from src.model.checkpoint import load_param_dict
    from src.model.checkpoint_formats import as_arrays, is_meta, is_optimizer_state, read_meta

    arrays = as_arrays(load_param_dict(path))
    tensors = {name: value for name, value in arrays.items()
               if not is_optimizer_state(name) and not is_meta(value)}
    if not tensors:
        raise CheckpointError(f"{path}: holds no network tensors")
    return tensors, read_meta(arrays)


def _check_same_network(first: Dict[str, np.ndarray], first_path: str, other: Dict[str, np.ndarray],
                        path: str) -> None:
    for name in sorted(set(first) | set(other)):
        if name not in other or name not in first:
            where = path if name not in other else first_path
            raise CheckpointError(f"{where} has no tensor {name}: only checkpoints of the same network can be averaged")
        if first[name].shape != other[name].shape:
            raise CheckpointError(f"{path}: {name} has shape {other[name].shape}, {first_path} {first[name].shape}: "
                                  "only checkpoints of the same network can be averaged")


def average_checkpoints(paths: Sequence[str], out_path: str) -> Dict[str, np.ndarray]:
    """Write the mean of ``paths``' network tensors to ``out_path`` (atomically); returns the tensors."""
    from mindspore import Tensor

    from src.model.checkpoint import save_checkpoint

    first, meta = _network_tensors(paths[0])
    sums = {name: value.astype(np.float64) for name, value in first.items()}
    activation = meta.get("activation")
    features = recorded_features(meta)
    for path in paths[1:]:
        tensors, other_meta = _network_tensors(path)
        _check_same_network(first, paths[0], tensors, path)
        if recorded_features(other_meta) != features:
            raise CheckpointError(f"{path} was trained on other features ({feature_flags(other_meta)}) than "
                                  f"{paths[0]} ({feature_flags(meta)}): only checkpoints of the same network can be "
                                  "averaged")
        theirs = other_meta.get("activation")
        if activation and theirs and theirs != activation:
            raise CheckpointError(f"{path}: activation {theirs}, {paths[0]} {activation}: "
                                  "only checkpoints of the same network can be averaged")
        activation = theirs or activation
        for name, value in tensors.items():
            sums[name] += value
    mean = {name: (total / len(paths)).astype(first[name].dtype) for name, total in sums.items()}
    out_meta = {"origin": "average of " + ", ".join(os.path.basename(p) for p in paths), **features}
    if activation:
        out_meta["activation"] = activation
    save_checkpoint([{"name": name, "data": Tensor(value)} for name, value in sorted(mean.items())],
                    out_path, out_meta)
    return mean


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("checkpoints", nargs="*", help="checkpoint files to average")
    parser.add_argument("--out", required=True, help="checkpoint to write (.ckpt)")
    parser.add_argument("--ckpt_dir", default="", help="instead of files: a run's checkpoint folder ...")
    parser.add_argument("--last", type=int, default=3, help="... whose newest N checkpoints are averaged")
    parser.add_argument("--prefix", default="DeepSpeech", help="the series' file name prefix (ckpt_file_name_prefix)")
    args = parser.parse_args(argv)
    paths = checkpoints_to_average(args.checkpoints, args.ckpt_dir, args.prefix, args.last)
    average_checkpoints(paths, args.out)
    print(f"wrote {args.out}: the average of {len(paths)} checkpoint(s): {', '.join(paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
