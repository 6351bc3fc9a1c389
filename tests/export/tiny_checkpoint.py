"""A small DeepSpeech2 checkpoint with random, trained-looking weights, for the export tests.

Batch-norm statistics and scales are drawn away from their initial values (mean 0, variance 1,
gamma 1, beta 0), where a wrongly mapped statistic would go unnoticed; ``conv_gain`` scales the
conv blocks' gammas so that hardtanh's clip at 20 is reached. The output layer is scaled up so
that the probabilities are peaked, as a trained model's are, rather than near uniform.
"""
import numpy as np
from mindspore import Tensor

from src.model.checkpoint import save_checkpoint
from src.model.deepspeech2 import DeepSpeechModel

NUM_CLASSES = 29  # labels.json


def write_tiny_checkpoint(path: str, activation: str = "tanh", rnn_batch_norm: bool = False, hidden: int = 32,
                          layers: int = 2, conv_gain: float = 1.0, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    net = DeepSpeechModel(NUM_CLASSES, hidden, layers, activation, rnn_batch_norm=rnn_batch_norm)
    for param in net.get_parameters():
        name, shape = param.name, param.shape
        if name.endswith("moving_variance"):
            value = rng.uniform(0.5, 2.0, shape)
        elif name.endswith("moving_mean") or name.endswith("beta"):
            value = rng.normal(0.0, 0.5, shape)
        elif name.endswith("gamma"):
            value = rng.uniform(0.5, 2.0, shape) * (conv_gain if name.startswith("conv.") else 1.0)
        elif name == "fc.module.weight":
            value = rng.normal(0.0, 2.0, shape)
        elif name.startswith("conv."):  # conv weights: He initialisation over the fan-in
            value = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
        else:  # LSTM weights and biases, as the network initialises them
            value = rng.uniform(-1.0, 1.0, shape) / np.sqrt(hidden)
        param.set_data(Tensor(np.asarray(value, np.float32)))
    return save_checkpoint(net, path, {"activation": activation})


def padded_batch(lengths, n_bins: int = 161, extra: int = 0, seed: int = 0):
    """Random normalised spectrograms of ``lengths`` frames, zero-padded to max + ``extra``, and lengths."""
    rng = np.random.default_rng(seed)
    x = np.zeros((len(lengths), 1, n_bins, max(lengths) + extra), np.float32)
    for row, frames in enumerate(lengths):
        x[row, 0, :, :frames] = rng.standard_normal((n_bins, frames))
    return x, np.asarray(lengths, np.int32)


def assert_matches_network(probs, out_lengths, ref_probs, ref_lengths) -> None:
    """An exported model's outputs equal the checkpoint network's (1e-4), and the test can see a difference."""
    assert out_lengths.tolist() == ref_lengths.tolist() and probs.shape == ref_probs.shape
    np.testing.assert_allclose(probs, ref_probs, rtol=0, atol=1e-4)
    peaks = np.concatenate([ref_probs[row, :n].max(axis=-1) for row, n in enumerate(ref_lengths)])
    assert peaks.mean() > 0.25  # peaked (uniform is 1/29): a near-uniform softmax would hide errors
