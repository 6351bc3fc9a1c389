"""Checkpoints: atomic saving, keeping the newest N, loading with clear errors.

Files are named as the model zoo names them, ``<prefix>-<epoch>_<step>.ckpt`` (epoch from 1,
step within the epoch). A checkpoint is written to a temporary file in the same folder and then
renamed, so a crash or a full disk never leaves a truncated file under a checkpoint's name and
the previous checkpoints stay intact.
"""
import glob
import os
import re
from typing import Dict, Optional, Tuple

import mindspore as ms
from mindspore import nn

META_KEYS = ("epoch", "step", "steps_per_epoch")
META_TEXT_KEYS = ("activation",)  # architecture facts that have no parameter of their own
_NAME = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d+)_(?P<step>\d+)\.ckpt$")


class CheckpointError(ValueError):
    pass


def checkpoint_name(prefix: str, epoch: int, step: int) -> str:
    return f"{prefix}-{epoch}_{step}.ckpt"


def save_checkpoint(cell: nn.Cell, path: str, meta: Optional[Dict] = None) -> str:
    """Save ``cell``'s parameters (and ``meta`` ints/strings) to ``path`` atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_partials(folder)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    # MindSpore itself writes "<name>.tmp" first and renames it to "<name>.ckpt"; both are ours to clean
    partials = (tmp, os.path.splitext(tmp)[0] + ".tmp")
    try:
        ms.save_checkpoint(cell, tmp, append_dict=dict(meta or {}))
        os.replace(tmp, path)
    except BaseException as err:
        for partial in partials:
            if os.path.exists(partial):
                os.remove(partial)
        if isinstance(err, (OSError, RuntimeError)):  # disk full, file size limit, permissions
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).splitlines()[0]
            raise CheckpointError(f"could not write checkpoint {path} ({reason}); "
                                  f"the checkpoints already in {folder} are untouched") from None
        raise
    return path


def remove_stale_partials(folder: str) -> None:
    """Delete the temporary files of saves whose process died mid-write (SIGKILL, power loss)."""
    for partial in glob.glob(os.path.join(glob.escape(folder), ".tmp-*-*")):
        pid = os.path.basename(partial).split("-")[1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            os.remove(partial)
        except PermissionError:
            pass  # a live process of another user


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


def _legacy_renamed(param_dict: Dict) -> Dict:
    """Old zoo checkpoints call the RNN stack ``rnn``; the zoo's eval renamed it, so do we."""
    if any(k.startswith("RNN.") for k in param_dict):
        return param_dict
    return {("RNN." + k[4:] if k.startswith("rnn.") else k): v for k, v in param_dict.items()}


def infer_model_shape(param_dict: Dict, path: str = "the checkpoint") -> Tuple[int, int]:
    """(hidden_size, hidden_layers) of the network a checkpoint holds."""
    params = _legacy_renamed(param_dict)
    if "fc.module.weight" not in params:
        raise CheckpointError(f"{path} holds no DeepSpeech2 network (no 'fc.module.weight')")
    hidden = int(params["fc.module.weight"].shape[1])
    layers = len({k.split(".")[2] for k in params if re.match(r"^RNN\.lstms\.\d+\.weight_ih_l0$", k)})
    return hidden, layers


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


def load_network_params(net: nn.Cell, param_dict: Dict, path: str = "checkpoint") -> None:
    """Load every parameter of ``net`` from ``param_dict``; mismatches are named, not ignored.

    Extra entries (optimizer state, metadata) are fine: eval and export load training checkpoints.
    """
    params = _legacy_renamed(param_dict)
    detail = describe_mismatch(net, params)
    if detail:
        raise CheckpointError(f"{path} does not fit this network ({detail})")
    ms.load_param_into_net(net, {p.name: params[p.name] for p in net.get_parameters()}, strict_load=True)


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
