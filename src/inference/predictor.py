"""Building the inference network from a checkpoint, shared by eval.py and export.py.

The network's size is read from the checkpoint itself, so a checkpoint of any model size (or a
model-zoo checkpoint) is evaluated or exported without repeating its size on the command line.
"""
from typing import Tuple

from src.model.checkpoint import has_rnn_batch_norm, infer_model_shape, load_network_params, load_param_dict, read_meta
from src.model.deepspeech2 import DeepSpeechModel, PredictWithSoftmax


def load_predictor(ckpt_path: str, num_classes: int, activation: str = "tanh") -> Tuple[PredictWithSoftmax, int, int]:
    """(inference network, hidden_size, hidden_layers) with the checkpoint's weights.

    ``activation`` is used only for checkpoints that do not record theirs (the model zoo's).
    """
    state = load_param_dict(ckpt_path)
    hidden, layers = infer_model_shape(state, ckpt_path)
    activation = read_meta(state).get("activation", activation)
    network = DeepSpeechModel(num_classes, hidden, layers, activation, rnn_batch_norm=has_rnn_batch_norm(state))
    load_network_params(network, state, ckpt_path)
    predictor = PredictWithSoftmax(network)
    predictor.set_train(False)
    return predictor, hidden, layers
