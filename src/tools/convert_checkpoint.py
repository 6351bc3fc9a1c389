"""Convert a deepspeech.pytorch model into a checkpoint of this toolkit.

``python -m src.tools.convert_checkpoint IN OUT.ckpt`` reads a bidirectional model of SeanNaren's
deepspeech.pytorch (a V2 ``.pth`` package or a V3 PyTorch Lightning ``.ckpt``) and writes our
checkpoint: hardtanh activation, batch norm between the LSTM layers and before the output layer,
conv biases folded into the batch norms, output rows in our labels.json order (blank last). It
refuses, in one sentence, other feature settings, other labels, a unidirectional (lookahead)
model and GRU/RNN layers. The mapping itself is ``deepspeech_pytorch_params`` in
``src/model/checkpoint_formats.py``. V3's loader gives librosa the window's name (a periodic
Hamming window, as ours); V2's gave it ``scipy.signal.hamming``, a symmetric one, so a V2 model
sees slightly different spectrograms here (not refused: the settings it records are equal).

PyTorch is needed by this tool only (``requirements-bench.txt``). The file is unpickled without
running code from it: classes outside PyTorch's tensor machinery (OmegaConf configs, enums,
Lightning's AttributeDict, deepspeech_pytorch's own) become inert records whose fields are read,
so neither omegaconf, pytorch_lightning nor deepspeech_pytorch need to be installed.
"""
import argparse
import os
import pickle
import sys
import types
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Dict, List

import numpy as np

from src.common.errors import CheckpointError, run_main
from src.data.labels import BLANK, DEFAULT_LABELS_PATH, Labels
from src.model.checkpoint_formats import (Architecture, architecture, deepspeech_pytorch_params, feature_mismatch,
                                          to_network_params)
from src.tools.inspect_checkpoint import eval_command


class _Record:
    """An object of a class this tool does not import: what pickle gave it, kept for reading."""
    origin = "?"

    def __new__(cls, *args, **kwargs):
        record = super().__new__(cls)
        record.args, record.state, record.items, record.elements = args, None, {}, []
        return record

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):  # dict subclasses (Lightning's AttributeDict)
        self.items[key] = value

    def append(self, value):  # list subclasses
        self.elements.append(value)

    def extend(self, values):
        self.elements.extend(values)

    def __repr__(self) -> str:
        return f"<{self.origin}>"


@lru_cache(maxsize=None)
def _record_class(module: str, name: str) -> type:
    return type(name, (_Record,), {"origin": f"{module}.{name}"})


def _getattr_by_name(owner, name: str):
    """``builtins.getattr`` as pickle uses it for enum members saved by name: a record of the name."""
    if isinstance(owner, type) and issubclass(owner, _Record):
        return owner(name)
    raise pickle.UnpicklingError(f"getattr on {type(owner).__name__} in a checkpoint")


@lru_cache(maxsize=1)
def _tensor_globals() -> Dict[str, object]:
    """What PyTorch's own weights-only loader lets a file name: tensors, storages, dtypes, OrderedDict."""
    from torch import _weights_only_unpickler

    return dict(_weights_only_unpickler._get_allowed_globals())


class _InertUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        allowed = _tensor_globals().get(f"{module}.{name}")
        if allowed is not None:
            return allowed
        if (module, name) == ("builtins", "getattr"):
            return _getattr_by_name
        return _record_class(module, name)


_INERT_PICKLE = types.ModuleType("ds2_inert_pickle")
_INERT_PICKLE.Unpickler = _InertUnpickler
_INERT_PICKLE.load = lambda fh, **kwargs: _InertUnpickler(fh, **kwargs).load()


def plain(value):
    """Records, OmegaConf containers and nodes, enums -> dicts, lists and their values."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, type) and issubclass(value, _Record):
        return value.__name__  # a class used as a value, e.g. RNNType.lstm = nn.LSTM
    if not isinstance(value, _Record):
        return value
    state = value.state if isinstance(value.state, dict) else {}
    if "_content" in state:  # OmegaConf DictConfig / ListConfig (BaseContainer.__getstate__)
        return plain(state["_content"])
    if "_val" in state:  # OmegaConf value node
        return plain(state["_val"])
    if value.items or value.elements:
        return plain(value.items or value.elements)
    if len(value.args) == 1:  # an Enum member: its value
        return plain(value.args[0])
    if state:  # a dataclass or Namespace: its public fields
        return plain({k: v for k, v in state.items() if not str(k).startswith("_")})
    return repr(value)


@dataclass
class TorchModel:
    """What the converter needs from a deepspeech.pytorch file."""
    version: str
    state: Dict[str, np.ndarray]
    labels: List[str]
    spect: Dict[str, object]
    bidirectional: bool


def read_deepspeech_pytorch(path: str) -> TorchModel:
    """Load a V2 ``.pth`` package or a V3 Lightning ``.ckpt`` without importing its classes."""
    import torch

    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: file not found")
    try:
        package = torch.load(path, map_location="cpu", pickle_module=_INERT_PICKLE, weights_only=False)
    except Exception as err:  # zip, pickle and storage errors of a damaged file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (truncated or corrupt?): {reason}") from None
    package = plain(package) if isinstance(package, (dict, _Record)) else package
    if not isinstance(package, dict) or not isinstance(package.get("state_dict"), dict):
        raise CheckpointError(f"{path}: not a deepspeech.pytorch model (no state_dict)")
    hyper = package.get("hyper_parameters")
    if isinstance(hyper, dict):  # V3: Lightning keeps DeepSpeech.__init__'s arguments
        version, labels, spect = "V3 (Lightning .ckpt)", hyper.get("labels"), hyper.get("spect_cfg") or {}
        bidirectional = "lookahead_context" not in (hyper.get("model_cfg") or {})
    else:  # V2: DeepSpeech.serialize()
        version, labels, spect = "V2 (.pth package)", package.get("labels"), package.get("audio_conf") or {}
        bidirectional = bool(package.get("bidirectional", True))
    if not labels:
        raise CheckpointError(f"{path}: the model records no labels")
    state = {name: value.detach().cpu().numpy() for name, value in package["state_dict"].items()
             if isinstance(value, torch.Tensor)}
    return TorchModel(version, state, list(labels), dict(spect), bidirectional)


def convert(in_path: str, out_path: str, labels_path: str = DEFAULT_LABELS_PATH) -> Architecture:
    """Write ``out_path`` from the deepspeech.pytorch model ``in_path``; returns its architecture."""
    from src.data.features import SpectParams

    spect = SpectParams()  # SpectConfig's values: what train, eval and transcribe compute
    model = read_deepspeech_pytorch(in_path)
    different = feature_mismatch(model.spect, asdict(spect))
    if different:
        raise CheckpointError(f"{in_path} was trained on other spectrograms than ours ({different}), "
                              "so its weights would not fit our features")
    labels = Labels.load(labels_path)
    params, _ = deepspeech_pytorch_params(model.state, model.labels, labels.symbols, BLANK, in_path,
                                          bidirectional=model.bidirectional)
    arch = architecture(params, in_path)
    _write(params, arch, out_path, {"activation": "hardtanh",
                                    "origin": f"deepspeech.pytorch {model.version} {os.path.basename(in_path)}"},
           spect.n_bins, in_path)
    return arch


def _write(params: Dict[str, np.ndarray], arch: Architecture, out_path: str, meta: Dict[str, object],
           n_bins: int, source: str) -> None:
    """Load ``params`` strictly into our network of ``arch`` and save it (atomically) with ``meta``."""
    import mindspore as ms

    from src.model.checkpoint import save_checkpoint
    from src.model.deepspeech2 import DeepSpeechModel

    network = DeepSpeechModel(arch.num_classes, arch.hidden_size, arch.hidden_layers, str(meta["activation"]),
                              n_bins=n_bins, rnn_batch_norm=arch.rnn_batch_norm, fc_batch_norm=arch.fc_batch_norm)
    shapes = {p.name: p.shape for p in network.get_parameters()}
    values, _ = to_network_params(params, shapes, source=source)
    ms.load_param_into_net(network, {name: ms.Parameter(ms.Tensor(value), name=name)
                                     for name, value in values.items()}, strict_load=True)
    save_checkpoint(network, out_path, meta)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("model", help="deepspeech.pytorch model: V2 .pth package or V3 Lightning .ckpt")
    parser.add_argument("out", help="checkpoint to write (.ckpt)")
    parser.add_argument("--labels_path", default=DEFAULT_LABELS_PATH,
                        help="our labels.json: the output rows are put in its order (blank last)")
    args = parser.parse_args(argv)
    arch = convert(args.model, args.out, args.labels_path)
    print(f"wrote {args.out}: {arch.describe()}, hardtanh, from deepspeech.pytorch {args.model}")
    print("evaluate with: " + eval_command(args.out, arch, {"activation": "hardtanh"}, arch.num_classes))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
