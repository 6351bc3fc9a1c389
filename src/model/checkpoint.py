"""Checkpoints: atomic saving, keeping the newest N, loading with clear errors.

Files are named as the model zoo names them, ``<prefix>-<epoch>_<step>.ckpt`` (epoch from 1,
step within the epoch). A checkpoint is written to a temporary file in the same folder and then
renamed, so a crash or a full disk never leaves a truncated file under a checkpoint's name and
the previous checkpoints stay intact.
"""
import glob
import os
import re
from typing import Dict, List, Optional, Tuple, Union

import mindspore as ms
from mindspore import nn

from src.common.errors import CheckpointError
from src.common.files import atomic_path, remove_quietly, remove_stale_temps
from src.model.checkpoint_formats import (Architecture, LoadReport, architecture, as_arrays, canonical_params,
                                          to_network_params)
from src.model.geometry import DEFAULT_FREQ_BINS, rnn_input_size

META_KEYS = ("epoch", "step", "steps_per_epoch", "accum_grad",
             "n_mels")  # the features (src/data/features.py feature_meta), only when not the zoo's
META_TEXT_KEYS = ("activation",  # an architecture fact that has no parameter of its own
                  "spect_normalize",
                  # the best validation WER so far (as text: MindSpore would keep a float as float32)
                  # and the checkpoint it is of (src/training/trainer.py Progress)
                  "best_wer", "best_checkpoint")
_NAME = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d+)_(?P<step>\d+)\.ckpt$")


def checkpoint_name(prefix: str, epoch: int, step: int) -> str:
    return f"{prefix}-{epoch}_{step}.ckpt"


def save_checkpoint(cell: Union[nn.Cell, List[Dict]], path: str, meta: Optional[Dict] = None) -> str:
    """Save ``cell``'s parameters (or a list of ``{"name", "data"}`` tensors) and ``meta`` ints/strings
    to ``path`` atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temps(folder)
    try:
        with atomic_path(path) as tmp:
            try:
                ms.save_checkpoint(cell, tmp, append_dict=dict(meta or {}))
            except BaseException:
                # MindSpore itself writes "<name>.tmp" first and renames it to "<name>.ckpt"
                remove_quietly(os.path.splitext(tmp)[0] + ".tmp")
                raise
    except (OSError, RuntimeError) as err:  # disk full, file size limit, permissions
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).splitlines()[0]
        raise CheckpointError(f"could not write checkpoint {path} ({reason}); "
                              f"the checkpoints already in {folder} are untouched") from None
    return path


def list_checkpoints(folder: str, prefix: str):
    """(epoch, step, path) of the series in ``folder``, oldest first."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(folder), f"{glob.escape(prefix)}-*_*.ckpt")):
        match = _NAME.match(os.path.basename(path))
        if match and match.group("prefix") == prefix:
            found.append((int(match.group("epoch")), int(match.group("step")), path))
    return sorted(found)


def prune_checkpoints(folder: str, prefix: str, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints of the series (keep <= 0 keeps all)."""
    if keep <= 0:
        return
    for _, _, path in list_checkpoints(folder, prefix)[:-keep]:
        os.remove(path)


def latest_checkpoint(folder: str, prefix: str) -> Optional[str]:
    found = list_checkpoints(folder, prefix)
    return found[-1][2] if found else None


def load_param_dict(path: str) -> Dict:
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: the checkpoint file is empty (0 bytes)")
    try:
        return ms.load_checkpoint(path)
    except Exception as err:  # MindSpore raises ValueError/RuntimeError for damaged files
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a readable MindSpore checkpoint (truncated or corrupt?): {msg}") from None


def read_meta(param_dict: Dict) -> Dict:
    meta = {key: str(param_dict[key]) for key in META_TEXT_KEYS if key in param_dict}
    for key in META_KEYS:
        if key in param_dict:
            value = param_dict[key]
            meta[key] = int(value.asnumpy() if hasattr(value, "asnumpy") else value)
    return meta


def checkpoint_architecture(param_dict: Dict, path: str = "the checkpoint",
                            n_bins: int = DEFAULT_FREQ_BINS) -> Tuple[Architecture, LoadReport]:
    """The network a checkpoint of any generation holds (src/model/checkpoint_formats.py), and its report."""
    params, report = canonical_params(as_arrays(param_dict), rnn_input_size(n_bins), path)
    return architecture(params, path), report


def infer_model_shape(param_dict: Dict, path: str = "the checkpoint") -> Tuple[int, int]:
    """(hidden_size, hidden_layers) of the network a checkpoint holds."""
    arch, _ = checkpoint_architecture(param_dict, path)
    return arch.hidden_size, arch.hidden_layers


def has_rnn_batch_norm(param_dict: Dict) -> bool:
    return any(k.startswith("RNN.norms.") for k in param_dict)


def describe_mismatch(cell: nn.Cell, param_dict: Dict, ignore: Tuple[str, ...] = ()) -> str:
    """Which of ``cell``'s parameters the checkpoint lacks or holds in another shape ("" if it fits)."""
    missing, wrong = [], []
    for param in cell.get_parameters():
        if param.name in ignore:
            continue
        if param.name not in param_dict:
            missing.append(param.name)
        elif tuple(param_dict[param.name].shape) != tuple(param.shape):
            wrong.append(f"{param.name} {tuple(param_dict[param.name].shape)} in the checkpoint, "
                         f"{tuple(param.shape)} here")

    def listed(names):
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return "; ".join(([f"missing: {listed(missing)}"] if missing else []) +
                     ([f"shape mismatch: {listed(wrong)}"] if wrong else []))


def load_network_params(net: nn.Cell, param_dict: Dict, path: str = "checkpoint",
                        reset_output_layer: bool = False) -> LoadReport:
    """Load every parameter of ``net`` from a checkpoint of any generation, strictly: a missing,
    extra or mis-shaped tensor is a CheckpointError naming it; optimizer state and metadata are
    reported, not loaded. ``reset_output_layer`` lets only ``fc.*`` keep its initial values
    (fine-tuning onto another labels.json)."""
    shapes = {p.name: tuple(p.shape) for p in net.get_parameters()}
    params, report = to_network_params(as_arrays(param_dict), shapes, reset_output_layer, source=path)
    ms.load_param_into_net(net, {name: ms.Parameter(ms.Tensor(value), name=name) for name, value in params.items()},
                           strict_load=True)
    return report


def parameter_digest(net: nn.Cell) -> str:
    """A short hash of the trainable parameters' bytes, in name order.

    Data-parallel ranks print it at the end: equal digests mean the replicas stayed in sync.
    Batch-norm running statistics are left out: each rank keeps its own (rank 0's are saved).
    """
    import hashlib

    digest = hashlib.sha256()
    for param in sorted(net.trainable_params(), key=lambda p: p.name):
        digest.update(param.name.encode())
        digest.update(param.asnumpy().tobytes())
    return digest.hexdigest()[:16]
