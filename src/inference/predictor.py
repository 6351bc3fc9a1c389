"""Building the inference network from a checkpoint (eval.py, export.py, transcribe.py), and reading
the input shape of an exported MINDIR, fixed or dynamic (transcribe.py, check_export).

The network's size is read from the checkpoint itself, so a checkpoint of any model size (or a
model-zoo checkpoint) is evaluated or exported without repeating its size on the command line.
How conv2 is computed (``ModelConfig.conv_impl``) is the caller's choice: the weights are the same.
"""
from typing import Optional, Tuple

from src.data.features import SpectParams, check_recorded_features
from src.model.checkpoint import checkpoint_architecture, load_network_params, load_param_dict, read_meta
from src.model.deepspeech2 import DeepSpeechModel, PredictWithSoftmax
from src.model.geometry import DEFAULT_FREQ_BINS


def load_predictor(ckpt_path: str, num_classes: int, activation: str = "tanh", conv_impl: str = "auto",
                   n_bins: int = DEFAULT_FREQ_BINS,
                   features: Optional[SpectParams] = None) -> Tuple[PredictWithSoftmax, int, int]:
    """(inference network, hidden_size, hidden_layers) with the checkpoint's weights.

    ``activation`` is used only for checkpoints that do not record theirs (the model zoo's);
    ``n_bins`` is the features' frequency bins. ``features``, the settings the caller will compute,
    replaces ``n_bins`` and must be those the checkpoint was trained on (refused otherwise, naming the
    flags), so no network ever sees features it did not learn.
    """
    state = load_param_dict(ckpt_path)
    if features is not None:
        check_recorded_features(read_meta(state), features, ckpt_path)
        n_bins = features.n_bins
    arch, report = checkpoint_architecture(state, ckpt_path, n_bins)
    activation = str(report.meta.get("activation", activation))
    network = DeepSpeechModel(num_classes, arch.hidden_size, arch.hidden_layers, activation, n_bins=n_bins,
                              rnn_batch_norm=arch.rnn_batch_norm, conv_impl=conv_impl,
                              fc_batch_norm=arch.fc_batch_norm)
    load_network_params(network, state, ckpt_path)
    predictor = PredictWithSoftmax(network)
    predictor.set_train(False)
    return predictor, arch.hidden_size, arch.hidden_layers


def mindir_input_shape(path: str) -> Tuple[Optional[int], ...]:
    """(batch, 1, bins, frames) of the MINDIR's input, as export.py wrote it: None for a dynamic axis
    (``export.py --dynamic true`` leaves batch and frames open)."""
    from google.protobuf.message import DecodeError
    from mindspore.train import mind_ir_pb2

    model = mind_ir_pb2.ModelProto()
    try:
        with open(path, "rb") as fh:
            model.ParseFromString(fh.read())
        return tuple(int(d) if int(d) >= 0 else None for d in model.graph.input[0].tensor[0].dims)
    except (OSError, IndexError, ValueError, DecodeError) as err:
        raise ValueError(f"--mindir {path}: not a MINDIR written by export.py ({err})") from None
