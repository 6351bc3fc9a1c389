"""Running an exported ONNX model (float32 or INT8) with ONNX Runtime alone: no MindSpore here.

A small device needs only onnxruntime, numpy, soundfile (or sox) and the decoder: features come
from src/data/features.py (NumPy), decoding from src/decoding/. ``OnnxNetwork`` answers
``network(x, lengths) -> (probabilities, output lengths)`` as the MindSpore networks that
transcribe.py runs do, so its ``Transcriber`` (chunks at silences, word times) runs this one too;
``transcribe_files`` is the short path for whole, short files (tests, benchmarks/bench_deploy.py).
"""
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np
import onnxruntime as ort

from src.data.features import SpectParams, audio_features, check_recorded_features, mismatched_bins_hint
from src.decoding.base import Decoder
from src.export import ONNX_INPUTS, ONNX_OUTPUTS
from src.model.geometry import DEFAULT_FREQ_BINS


class OnnxNetwork:
    """An ONNX model of export.py run on the CPU; batch and time are dynamic.

    ``batch_size`` is how many chunks the caller puts in one call (any number works);
    ``threads`` caps ONNX Runtime's intra-op threads (0: its default, one per physical core).
    """

    max_frames: Optional[int] = None  # any length

    def __init__(self, path: str, n_bins: int = DEFAULT_FREQ_BINS, batch_size: int = 4, threads: int = 0,
                 features: Optional[SpectParams] = None):
        """``features``, the settings the caller computes, replaces ``n_bins`` and must be those export.py
        recorded in the model (none recorded: the zoo's features)."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--onnx {path}: no such file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"--onnx {path}: not an ONNX model ONNX Runtime can run ({first})") from None
        if features is not None:
            recorded = self.session.get_modelmeta().custom_metadata_map
            check_recorded_features({k: int(v) if k == "n_mels" else v for k, v in recorded.items()}, features,
                                    f"--onnx {path}")
            n_bins = features.n_bins
        _check_signature(self.session, path, n_bins)
        self.batch_size = batch_size
        self.description = f"ONNX {path} (ONNX Runtime {ort.__version__})"

    def __call__(self, x: np.ndarray, lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """x (N, 1, bins, T) float32, lengths (N,) -> probabilities (N, T', classes), output lengths (N,)."""
        feeds = {ONNX_INPUTS[0]: np.ascontiguousarray(x, np.float32), ONNX_INPUTS[1]: np.asarray(lengths, np.int32)}
        probs, out_lengths = self.session.run(list(ONNX_OUTPUTS), feeds)
        return probs, out_lengths


def _check_signature(session: ort.InferenceSession, path: str, n_bins: int) -> None:
    """The model must be export.py's: its inputs and outputs by name, and the features' bins."""
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    shape = inputs.get(ONNX_INPUTS[0], [])
    if sorted(inputs) != sorted(ONNX_INPUTS) or sorted(outputs) != sorted(ONNX_OUTPUTS) or len(shape) != 4 \
            or shape[2] != n_bins:
        raise ValueError(f"--onnx {path}: inputs {inputs} and outputs {outputs} are not export.py's "
                         f"({ONNX_INPUTS[0]} [batch, 1, {n_bins}, frames], {ONNX_INPUTS[1]} [batch] -> "
                         f"{', '.join(ONNX_OUTPUTS)}){mismatched_bins_hint(shape[2] if len(shape) == 4 else None)}")


def pad_batch(features: Sequence[np.ndarray], rows: int) -> Tuple[np.ndarray, np.ndarray]:
    """Spectrograms (bins, T_i) -> zero-padded (rows, 1, bins, max T_i) and their lengths.

    Rows past ``len(features)`` (for networks with a fixed batch) are all zeros, with the full
    width as their length; their outputs are ignored.
    """
    bins, width = features[0].shape[0], max(f.shape[1] for f in features)
    x = np.zeros((max(rows, len(features)), 1, bins, width), np.float32)
    lengths = np.full((len(x),), width, np.int32)
    for row, spec in enumerate(features):
        x[row, 0, :, : spec.shape[1]] = spec
        lengths[row] = spec.shape[1]
    return x, lengths


def transcribe_files(network, decoder: Decoder, paths: Sequence[str],
                     params: SpectParams = SpectParams()) -> List[str]:
    """The best transcript of each whole file, ``network.batch_size`` files per network call.

    ``network`` is an ``OnnxNetwork`` or any network with the same call (a checkpoint's, a
    MINDIR's). Whole files: for long recordings use transcribe.py's ``Transcriber``, which cuts
    them at silences.
    """
    texts: List[str] = []
    for start in range(0, len(paths), network.batch_size):
        features = [audio_features(path, params)[0] for path in paths[start: start + network.batch_size]]
        probs, out_lengths = network(*pad_batch(features, network.batch_size))
        rows = [probs[i, : int(out_lengths[i])] for i in range(len(features))]
        texts += [hyps[0].text for hyps in decoder.decode(rows, [len(r) for r in rows])]
    return texts
