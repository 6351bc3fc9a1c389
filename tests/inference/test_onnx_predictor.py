"""ONNX Runtime inference: real recordings transcribed in a process that never imports MindSpore,
with the same transcripts as the checkpoint network that transcribe.py runs."""
import glob
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms

from src.data.features import SpectParams
from src.data.labels import DEFAULT_LABELS_PATH, Labels
from src.decoding.greedy import GreedyDecoder
from src.export.onnx_graph import build_onnx_model, save_onnx
from src.inference.onnx_predictor import OnnxNetwork, pad_batch, transcribe_files
from src.inference.predictor import load_predictor
from src.inference.networks import CheckpointNetwork
from tests.export.tiny_checkpoint import NUM_CLASSES, write_tiny_checkpoint
from tests.helpers import LIBRI, ROOT, run_script

FLACS = sorted(glob.glob(os.path.join(LIBRI, "test-other", "*", "*", "*.flac")))[:5]

# Transcribes argv[2:] with the ONNX model argv[1]; prints the texts and any MindSpore module loaded.
ONNX_ONLY = textwrap.dedent("""
    import json, sys
    from src.data.labels import DEFAULT_LABELS_PATH, Labels
    from src.decoding.greedy import GreedyDecoder
    from src.inference.onnx_predictor import OnnxNetwork, transcribe_files
    network = OnnxNetwork(sys.argv[1], 161, batch_size=2)
    texts = transcribe_files(network, GreedyDecoder(Labels.load(DEFAULT_LABELS_PATH)), sys.argv[2:])
    print(json.dumps({"texts": texts, "mindspore": sorted(m for m in sys.modules if m.startswith("mindspore"))}))
""")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(checkpoint, its ONNX export) of a tiny random hardtanh network with batch-normed LSTM inputs."""
    ms.set_context(mode=ms.GRAPH_MODE)  # as transcribe.py runs the checkpoint
    ms.set_device("CPU")
    folder = tmp_path_factory.mktemp("onnx_model")
    ckpt = write_tiny_checkpoint(str(folder / "tiny.ckpt"), "hardtanh", rnn_batch_norm=True, conv_gain=6.0)
    predictor, _, _ = load_predictor(ckpt, NUM_CLASSES)
    return ckpt, save_onnx(build_onnx_model(predictor), str(folder / "tiny.onnx"))


def test_onnx_transcripts_without_mindspore_equal_the_checkpoints(model):
    ckpt, onnx_path = model
    assert len(FLACS) == 5
    proc = subprocess.run([sys.executable, "-c", ONNX_ONLY, onnx_path, *FLACS], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["mindspore"] == []
    labels = Labels.load(DEFAULT_LABELS_PATH)
    network = CheckpointNetwork(ckpt, NUM_CLASSES, "tanh", 2, SpectParams())  # transcribe.py --pretrain_ckpt's network
    assert result["texts"] == transcribe_files(network, GreedyDecoder(labels), FLACS)
    assert all(len(text) > 20 for text in result["texts"])  # many characters each, not empty strings


def test_transcribe_py_onnx_equals_pretrain_ckpt_and_never_loads_mindspore(model, tmp_path):
    """transcribe.py end to end on real files: the same words and times; ``-X importtime`` lists
    every module the ``--onnx`` process imports."""
    ckpt, onnx_path = model
    out = {}
    for flag, path in (("--onnx", onnx_path), ("--pretrain_ckpt", ckpt)):
        out[flag] = tmp_path / f"{flag[2:]}.json"
        proc = run_script("-X", "importtime", "transcribe.py", flag, path, *FLACS[:3], "--json", str(out[flag]),
                          timeout=600)
        loaded = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
        assert ("mindspore" in loaded) == (flag == "--pretrain_ckpt")
    onnx_results, ckpt_results = (json.loads(out[flag].read_text())["results"] for flag in out)
    assert [(r["text"], r["words"]) for r in onnx_results] == [(r["text"], r["words"]) for r in ckpt_results]


def test_a_file_that_is_not_an_export_is_refused(model, tmp_path):
    _, onnx_path = model
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match="--onnx .*not an ONNX model"):
        OnnxNetwork(str(bogus), 161)
    with pytest.raises(ValueError, match=r"--onnx .*\[batch, 1, 201, frames\]"):
        OnnxNetwork(onnx_path, 201)
    with pytest.raises(FileNotFoundError, match="--onnx"):
        OnnxNetwork(str(tmp_path / "missing.onnx"), 161)


def test_pad_batch_zero_pads_and_fills_rows():
    features = [np.ones((3, 5), np.float32), np.full((3, 2), 2.0, np.float32)]
    x, lengths = pad_batch(features, rows=3)
    assert x.shape == (3, 1, 3, 5) and lengths.dtype == np.int32 and lengths.tolist() == [5, 2, 5]
    assert (x[0, 0] == 1).all() and (x[1, 0, :, :2] == 2).all() and not x[1, 0, :, 2:].any() and not x[2].any()
