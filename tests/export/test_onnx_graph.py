"""The ONNX graph: ONNX Runtime's outputs equal the checkpoint network's, padding included."""
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor

from src.export import ONNX_INPUTS, ONNX_OUTPUTS
from src.export.onnx_graph import build_onnx_model, save_onnx
from src.inference.predictor import load_predictor
from tests.export.tiny_checkpoint import NUM_CLASSES, assert_matches_network, padded_batch, write_tiny_checkpoint
from tests.helpers import run_script

# (lengths, extra padding frames past the longest): one utterance, mixed lengths, equal lengths with
# padding past both, and lengths of one and two frames (one output frame each)
BATCHES = [([37], 0), ([120, 61, 9], 0), ([64, 64], 7), ([33, 1, 2, 80], 3)]
VARIANTS = {  # name: write_tiny_checkpoint options
    "tanh": dict(activation="tanh"),
    "hardtanh+rnn_batch_norm": dict(activation="hardtanh", rnn_batch_norm=True, conv_gain=6.0),
    "relu+rnn_batch_norm, 3 layers": dict(activation="relu", rnn_batch_norm=True, layers=3),
}


@pytest.fixture(scope="module", autouse=True)
def pynative_cpu():
    ms.set_context(mode=ms.PYNATIVE_MODE)  # many shapes, each run once: no graph compilation
    ms.set_device("CPU")


@pytest.fixture(scope="module", params=list(VARIANTS))
def exported(request, tmp_path_factory):
    """(checkpoint network, ONNX Runtime session of its export) for one variant."""
    folder = tmp_path_factory.mktemp("onnx")
    ckpt = write_tiny_checkpoint(str(folder / "tiny.ckpt"), **VARIANTS[request.param])
    predictor, _, _ = load_predictor(ckpt, NUM_CLASSES)
    path = save_onnx(build_onnx_model(predictor), str(folder / "tiny.onnx"))
    return predictor, ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def run_onnx(session, x, lengths):
    return session.run(list(ONNX_OUTPUTS), {ONNX_INPUTS[0]: x, ONNX_INPUTS[1]: lengths})


@pytest.mark.parametrize("lengths, extra", BATCHES)
def test_onnx_equals_the_checkpoint_network(exported, lengths, extra):
    predictor, session = exported
    x, lens = padded_batch(lengths, extra=extra)
    probs, out_lengths = run_onnx(session, x, lens)
    ref_probs, ref_lengths = (t.asnumpy() for t in predictor(Tensor(x), Tensor(lens)))
    assert out_lengths.dtype == np.int32
    assert_matches_network(probs, out_lengths, ref_probs, ref_lengths)


def test_padding_does_not_change_an_utterance(exported):
    """ORT's LSTM with sequence_lens starts the backward direction at each utterance's own end."""
    _, session = exported
    x, lens = padded_batch([150, 41, 90], extra=12, seed=3)
    probs, out_lengths = run_onnx(session, x, lens)
    for row, frames in enumerate(lens):
        alone, alone_lengths = run_onnx(session, np.ascontiguousarray(x[row:row + 1, :, :, :frames]), lens[row:row + 1])
        valid = int(out_lengths[row])
        assert valid == int(alone_lengths[0]) == alone.shape[1]
        np.testing.assert_allclose(probs[row, :valid], alone[0], rtol=0, atol=1e-5)


def test_the_graph_is_standard_onnx_with_dynamic_batch_and_time(exported):
    predictor, _ = exported
    model = build_onnx_model(predictor)
    assert {node.domain for node in model.graph.node} == {""}
    assert model.opset_import[0].version == 17 and model.ir_version == 8
    dims = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert [dims(i) for i in model.graph.input] == [["batch", 1, 161, "frames"], ["batch"]]
    assert [dims(o) for o in model.graph.output] == [["batch", "out_frames", NUM_CLASSES], ["batch"]]
    lstms = [n for n in model.graph.node if n.op_type == "LSTM"]
    assert len(lstms) == len(predictor.network.RNN.lstms)
    assert all(n.input[4] == ONNX_OUTPUTS[1] for n in lstms)  # sequence_lens: the output lengths
    onnx.checker.check_model(model, full_check=True)


def test_features_of_another_size_are_refused(exported):
    predictor, _ = exported
    with pytest.raises(ValueError, match="201 frequency bins"):
        build_onnx_model(predictor, n_bins=201)


def test_export_py_writes_the_onnx_and_int8_models(tmp_path):
    ckpt = write_tiny_checkpoint(str(tmp_path / "tiny.ckpt"), "relu")
    proc = run_script("export.py", "--pre_trained_model_path", ckpt, "--file_format", "ONNX", "--quantize", "int8",
                      "--file_name", str(tmp_path / "out.onnx"), timeout=300)
    assert f"-> {tmp_path / 'out.onnx'} (float32" in proc.stdout and f"-> {tmp_path / 'out.int8.onnx'} (" in proc.stdout
    predictor, _, _ = load_predictor(ckpt, NUM_CLASSES)
    x, lens = padded_batch([50, 20])
    probs, _ = run_onnx(ort.InferenceSession(str(tmp_path / "out.onnx"), providers=["CPUExecutionProvider"]), x, lens)
    np.testing.assert_allclose(probs, predictor(Tensor(x), Tensor(lens))[0].asnumpy(), rtol=0, atol=1e-4)
    assert os.path.getsize(tmp_path / "out.int8.onnx") < os.path.getsize(tmp_path / "out.onnx")
    refused = run_script("export.py", "--pre_trained_model_path", ckpt, "--quantize", "int8", check=False)
    assert refused.returncode == 2 and "--quantize int8 needs --file_format ONNX" in refused.stderr
